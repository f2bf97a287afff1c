-- The engine's domain state. Forward-only: later changes go in new numbered files.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE,
    display_name  text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('dpo', 'approver', 'auditor', 'admin')),
    password_hash text NOT NULL DEFAULT '', -- argon2id, PHC string; empty: no password login
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled      boolean NOT NULL DEFAULT false
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   bytea NOT NULL UNIQUE, -- sha256 of the token bytes; the token itself is never stored
    user_id      uuid NOT NULL REFERENCES users (id),
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE incidents (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference          text UNIQUE, -- NULL when the caller gave none
    title              text NOT NULL,
    description        text NOT NULL DEFAULT '',
    discovery          text NOT NULL DEFAULT '',
    detected_at        timestamptz NOT NULL,
    aware_at           timestamptz NOT NULL,
    aware_at_reason    text NOT NULL DEFAULT '',
    occurred_at        timestamptz,
    controller         jsonb NOT NULL,
    data_categories    text[] NOT NULL DEFAULT '{}',
    subject_categories text[] NOT NULL DEFAULT '{}',
    approx_subjects    bigint NOT NULL DEFAULT 0,
    approx_records     bigint NOT NULL DEFAULT 0,
    breach_types       text[] NOT NULL DEFAULT '{}',
    cause              text NOT NULL DEFAULT '',
    ongoing            boolean NOT NULL DEFAULT false,
    regimes            text[] NOT NULL DEFAULT '{gdpr}',
    circumstances      jsonb NOT NULL DEFAULT '{}',
    state              text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'assessed', 'closed')),
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz,
    summary            text NOT NULL DEFAULT ''
);
CREATE INDEX incidents_created_at ON incidents (created_at);

-- Every assessment is kept; the latest is current (Art. 33(5): decisions and their reasons).
CREATE TABLE assessments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid NOT NULL REFERENCES incidents (id),
    facts       jsonb NOT NULL,
    proposal    jsonb NOT NULL,
    decided     text NOT NULL CHECK (decided IN ('none', 'risk', 'high')),
    exemption   text,
    overridden  boolean NOT NULL,
    reason      text NOT NULL DEFAULT '',
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    seq         bigserial NOT NULL -- insertion order, to find the latest
);
CREATE INDEX assessments_incident ON assessments (incident_id, seq);

CREATE TABLE draft_versions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    regime       text NOT NULL,
    stage        text NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 1),
    version      integer NOT NULL CHECK (version >= 1),
    state        text NOT NULL CHECK (state IN ('pending', 'approved', 'returned', 'superseded', 'filed')),
    fields       jsonb NOT NULL,
    drafted_by   text NOT NULL,
    edited_by    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    html         bytea NOT NULL,
    content_hash text NOT NULL,
    approved_by  text,
    approved_at  timestamptz,
    returned_by  text,
    returned_at  timestamptz,
    comment      text NOT NULL DEFAULT '',
    UNIQUE (incident_id, regime, stage, seq, version)
);

CREATE TABLE filings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id      uuid NOT NULL REFERENCES incidents (id),
    regime           text NOT NULL,
    stage            text NOT NULL,
    seq              integer NOT NULL,
    draft_version_id uuid NOT NULL UNIQUE REFERENCES draft_versions (id),
    content_hash     text NOT NULL,
    filed_at         timestamptz NOT NULL,
    channel          text NOT NULL,
    reference        text NOT NULL DEFAULT '',
    due_at           timestamptz,
    late             boolean NOT NULL DEFAULT false,
    delay_reasons    text NOT NULL DEFAULT '',
    recorded_by      text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filings_incident ON filings (incident_id, filed_at);

-- Activities run at least once: each records its operation key with its result
-- in the same transaction as its change, and a retry returns the stored result.
CREATE TABLE applied_ops (
    op_key     text PRIMARY KEY,
    result     jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Hash-chained audit log: hash = sha256(canonical form of the row, including
-- prev_hash). Appends are serialised with a transaction-level advisory lock.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    text NOT NULL,
    actor_role  text NOT NULL DEFAULT '',
    action      text NOT NULL,
    incident_id uuid,
    workflow_id text NOT NULL DEFAULT '',
    run_id      text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, id);
