-- The credential track (issue 4, DESIGN.md track 4): the forced password
-- reset of every affected account at the organisation's identity provider,
-- and the completions reported afterwards.

-- One row per person of the incident who has an account (people.account_id
-- sealed), made in bulk when the DPO starts the reset. States:
--   pending -> running (claimed by a batch: lease_until, attempt)
--           -> done (reset forced and sessions revoked at the provider)
--            | failed (the provider's permanent answer, in reason)
-- A row left running past its lease goes back to pending: the connectors'
-- actions are idempotent per account (idp.Account.Key), so trying again is
-- safe. completed_at is when the person actually changed the password, as
-- the organisation reported it (signed webhook) or the status query found it;
-- the monitoring track reminds the people without it.
-- No foreign keys, like the ledger: rows are made in bulk by one statement.
CREATE TABLE account_resets (
    incident_id     uuid     NOT NULL,
    person_id       bigint   NOT NULL,
    state           text     NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempt         smallint NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    next_attempt_at timestamptz, -- after a temporary refusal (Retry-After)
    reason          text     NOT NULL DEFAULT '', -- the provider's reason, never the account ID
    done_at         timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, person_id)
) WITH (fillfactor = 80);
