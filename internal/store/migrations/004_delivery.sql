-- Telling the people concerned (GDPR Art. 34): the letters and their approval,
-- the sends, and the per-person delivery ledger that makes sending exactly
-- once towards people (DESIGN.md, "Exactly-once towards people").

-- One row per version of the letter in one language. Four-eyes as for the
-- regulator dossier: whoever drafted the letter or edited this version never
-- approves it. content_hash is templates.LetterContentHash of the version: a
-- sender recomputes it before sending and refuses when it differs.
CREATE TABLE letter_versions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    language     text NOT NULL CHECK (language IN ('fr', 'en')),
    version      integer NOT NULL CHECK (version >= 1),
    state        text NOT NULL CHECK (state IN ('pending', 'approved', 'returned', 'superseded')),
    fields       jsonb NOT NULL,
    drafted_by   text NOT NULL,
    edited_by    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    content_hash text NOT NULL,
    approved_by  text,
    approved_at  timestamptz,
    returned_by  text,
    returned_at  timestamptz,
    comment      text NOT NULL DEFAULT '',
    UNIQUE (incident_id, language, version)
);

-- One row per start of a send: which approved letters go out, to how many
-- people, under which policy for rows whose outcome is unknown. At most one
-- send of an incident is active (running or paused) at a time.
CREATE TABLE sends (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL REFERENCES incidents (id),
    seq         integer NOT NULL CHECK (seq >= 1),
    state       text NOT NULL CHECK (state IN ('running', 'paused', 'cancelled', 'completed')),
    policy      text NOT NULL CHECK (policy IN ('resend', 'hold')),
    letters     uuid[] NOT NULL, -- letter_versions, one per language
    total       bigint NOT NULL CHECK (total >= 0),
    min_person  bigint NOT NULL,
    max_person  bigint NOT NULL,
    partitions  integer NOT NULL CHECK (partitions >= 1),
    risk        text NOT NULL,  -- the decided risk when the send started
    reason      text NOT NULL DEFAULT '', -- why, when the risk was not decided high
    started_by  text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (incident_id, seq)
);
CREATE UNIQUE INDEX sends_one_active ON sends (incident_id) WHERE state IN ('running', 'paused');

-- The ledger: one row per (incident, person, letter version). States:
--   pending -> sending (claimed: lease_until, attempt, worker, claim token)
--           -> sent | failed (the relay's permanent answer) | unknown
-- A row left in sending past its lease was perhaps delivered: it becomes
-- unknown, and the send's policy resends it (same Message-ID) or holds it.
-- A temporary refusal (4xx) puts the row back to pending until next_attempt_at.
-- No foreign keys: rows are made in bulk from people and letter_versions by
-- one statement per range, and a per-row trigger would double that cost.
-- fillfactor leaves room on each page so that state changes are HOT updates
-- (no indexed column changes), which keeps the claim and the outcome cheap.
CREATE TABLE ledger (
    incident_id       uuid     NOT NULL,
    person_id         bigint   NOT NULL,
    letter_version_id uuid     NOT NULL,
    state             text     NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    attempt           smallint NOT NULL DEFAULT 0, -- sends attempted
    lease_until       timestamptz,
    claim             bigint,  -- token of the claim holding the row (or that last held it)
    worker            text,    -- identity of the worker that last claimed the row
    next_attempt_at   timestamptz, -- after a temporary refusal
    content_hash      text     NOT NULL, -- the approved version's (letter_versions.content_hash)
    message_id        text,
    relay_code        smallint,
    relay_response    text,    -- the relay's answer, recipient address removed
    sent_at           timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, person_id, letter_version_id)
) WITH (fillfactor = 70);

-- What each claim (a batch, by its token) may have sent: a batch raises
-- attempted_through before it sends to a person with a higher ID, in the
-- statement that records the outcomes so far. When a lease expires, rows up
-- to it were perhaps delivered (unknown); rows past it were never tried and
-- go back to pending. A crash thus leaves at most a flush's worth of unknown
-- rows per batch, not its whole claim.
CREATE TABLE ledger_claims (
    token             bigint PRIMARY KEY,
    incident_id       uuid   NOT NULL,
    attempted_through bigint NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Transitions off the straight path (pending -> sending -> sent at the first
-- attempt, which the row itself shows): temporary refusals, permanent
-- failures, leases that expired (unknown, or pending when never tried),
-- resends.
CREATE TABLE ledger_events (
    id                bigserial PRIMARY KEY,
    incident_id       uuid     NOT NULL,
    person_id         bigint   NOT NULL,
    letter_version_id uuid     NOT NULL,
    at                timestamptz NOT NULL DEFAULT now(),
    from_state        text     NOT NULL,
    to_state          text     NOT NULL,
    attempt           smallint NOT NULL,
    worker            text,
    relay_code        smallint,
    detail            text     NOT NULL DEFAULT ''
);
CREATE INDEX ledger_events_row ON ledger_events (incident_id, person_id, letter_version_id, id);

-- Counts of ledger rows by state, per incident, kept in the transaction of
-- every change: the status never counts millions of rows. Writers update
-- their own shard (the partition), so they do not wait on one hot row; the
-- counts are the sum over the shards.
CREATE TABLE delivery_counts (
    incident_id uuid    NOT NULL REFERENCES incidents (id),
    shard       integer NOT NULL,
    pending     bigint  NOT NULL DEFAULT 0,
    sending     bigint  NOT NULL DEFAULT 0,
    sent        bigint  NOT NULL DEFAULT 0,
    failed      bigint  NOT NULL DEFAULT 0,
    unknown     bigint  NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, shard)
);
