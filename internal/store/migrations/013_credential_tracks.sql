-- The credential track, continued (issue 4): the track of each incident,
-- the claim and blind index on each reset row, and the counters. Migration
-- 009 made account_resets before anything wrote to it; nothing has, so the
-- NOT NULL column is added without a default.

-- One row per incident whose reset was started: the connector's
-- configuration (idp.Config: data, secrets only referenced), the track's
-- state and the last error the connector gave, so that the incident shows it.
--   running  -> paused (by the DPO, or by a connector misconfiguration:
--               last_error) -> running (resumed, round + 1)
--   running  -> polling (every account handled: completions are polled)
--   polling | paused -> ended (the incident closed, or the polling period ended)
CREATE TABLE credential_tracks (
    incident_id   uuid PRIMARY KEY REFERENCES incidents (id),
    state         text NOT NULL CHECK (state IN ('running', 'paused', 'polling', 'ended')),
    config        jsonb NOT NULL,
    options       jsonb NOT NULL DEFAULT '{}',
    round         integer NOT NULL DEFAULT 1 CHECK (round >= 1),
    accounts      bigint NOT NULL DEFAULT 0, -- people with an account when the reset started
    started_by    text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    reset_done_at timestamptz,
    paused_reason text NOT NULL DEFAULT '',
    last_error    text NOT NULL DEFAULT '', -- the connector's, never an account ID nor a secret
    last_error_at timestamptz,
    polled_at     timestamptz,
    poll_error    text NOT NULL DEFAULT '',
    ended_at      timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- claim: token of the batch holding the row (or that last held it); worker:
-- identity of the worker that last claimed it. account_index is a keyed
-- blind index (HMAC under the incident's key) of the account ID, computed
-- when the row is made: a completion report names accounts, and is matched
-- through it without opening every sealed account ID. It is keyed from the
-- incident's data key, so the purge makes it meaningless too.
ALTER TABLE account_resets
    ADD COLUMN claim         bigint,
    ADD COLUMN worker        text,
    ADD COLUMN account_index bytea NOT NULL;
CREATE INDEX account_resets_account ON account_resets (incident_id, account_index);

-- Counts of account_resets rows by state, and of completions, per incident,
-- kept in the statement of every change (never a COUNT over millions of rows
-- per request). Writers use their own shard (a partition; completions
-- reported by webhook use shard -1), the counts are the sum over the shards.
CREATE TABLE account_reset_counts (
    incident_id uuid    NOT NULL REFERENCES incidents (id),
    shard       integer NOT NULL,
    pending     bigint  NOT NULL DEFAULT 0,
    running     bigint  NOT NULL DEFAULT 0,
    done        bigint  NOT NULL DEFAULT 0,
    failed      bigint  NOT NULL DEFAULT 0,
    completed   bigint  NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, shard)
);

-- Completions per day (Europe/Paris), counted as they are first recorded:
-- the completion rate the DPO follows and reports.
CREATE TABLE account_completions_daily (
    incident_id uuid   NOT NULL REFERENCES incidents (id),
    day         date   NOT NULL,
    completed   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, day)
);
