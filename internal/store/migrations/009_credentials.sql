-- The credential track (issue 4, DESIGN.md track 4): the forced password
-- reset of every affected account at the organisation's identity provider,
-- and the completions reported afterwards.

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

-- One row per person of the incident who has an account (people.account_id
-- sealed), made in bulk when the DPO starts the reset. States:
--   pending -> running (claimed by a batch: lease_until, attempt, claim)
--           -> done (reset forced and sessions revoked at the provider)
--            | failed (the provider's permanent answer, in reason)
-- A row left running past its lease goes back to pending: the connectors'
-- actions are idempotent per account (idp.Account.Key), so trying again is
-- safe. completed_at is when the person actually changed the password, as
-- the organisation reported it (signed webhook) or the status query found it;
-- the first report is kept. The monitoring track reminds the people without it.
-- account_index is a keyed blind index (HMAC under the vault's index key) of
-- the account ID, computed when the row is made: a completion report names
-- accounts, and is matched through it without opening every sealed account ID.
-- No foreign keys, like the ledger: rows are made in bulk by one statement.
CREATE TABLE account_resets (
    incident_id     uuid     NOT NULL,
    person_id       bigint   NOT NULL,
    state           text     NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempt         smallint NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    claim           bigint,  -- token of the batch holding the row (or that last held it)
    worker          text,    -- identity of the worker that last claimed the row
    next_attempt_at timestamptz, -- after a temporary refusal (Retry-After)
    reason          text     NOT NULL DEFAULT '', -- the provider's reason, never the account ID
    account_index   bytea    NOT NULL,
    done_at         timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, person_id)
) WITH (fillfactor = 80);
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
