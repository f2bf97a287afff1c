-- The follow-up monitoring of an incident (issue 4, DESIGN.md track 5): the
-- reminders to the people whose password reset is not complete, the abuse
-- signals the organisation reports, the alerts they raise, and the reports
-- to the DPO.

-- Letters have a kind: the Art. 34 notice (every existing letter), or the
-- reminder sent to people whose forced password reset is still pending. Each
-- kind has its own versions per language, approved under the same four-eyes.
ALTER TABLE letter_versions
    ADD COLUMN kind text NOT NULL DEFAULT 'notice' CHECK (kind IN ('notice', 'reminder'));
ALTER TABLE letter_versions DROP CONSTRAINT letter_versions_incident_id_language_version_key;
ALTER TABLE letter_versions ADD UNIQUE (incident_id, kind, language, version);

-- Sends have the kind of their letters and, for reminders, their round (1 for
-- the reminder after 7 days, 2 after 21 days...). A round is sent once: its
-- people are those whose reset was not complete when it started.
ALTER TABLE sends
    ADD COLUMN kind  text     NOT NULL DEFAULT 'notice' CHECK (kind IN ('notice', 'reminder')),
    ADD COLUMN round smallint NOT NULL DEFAULT 0,
    ADD CONSTRAINT sends_round_of_kind CHECK ((kind = 'notice') = (round = 0));
CREATE UNIQUE INDEX sends_one_reminder_round ON sends (incident_id, round) WHERE kind = 'reminder';
-- One active send per kind: a reminder round may run while a notice send is
-- paused, and the other way round.
DROP INDEX sends_one_active;
CREATE UNIQUE INDEX sends_one_active ON sends (incident_id, kind) WHERE state IN ('running', 'paused');

-- The ledger key gains the round: reminder 1 and reminder 2 may use the same
-- approved letter version and still be two rows, each sent at most once. The
-- notice's rows are round 0. The round is last in the key so that the claim
-- keeps its range scan over person IDs.
ALTER TABLE ledger ADD COLUMN round smallint NOT NULL DEFAULT 0;
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
ALTER TABLE ledger ADD PRIMARY KEY (incident_id, person_id, letter_version_id, round);
ALTER TABLE ledger_events ADD COLUMN round smallint NOT NULL DEFAULT 0;

-- Counters by state per round: the notice's progress is not mixed with the
-- reminders'.
ALTER TABLE delivery_counts ADD COLUMN round smallint NOT NULL DEFAULT 0;
ALTER TABLE delivery_counts DROP CONSTRAINT delivery_counts_pkey;
ALTER TABLE delivery_counts ADD PRIMARY KEY (incident_id, round, shard);

-- Abuse signals as the organisation reports them (signed webhook). The
-- account IDs some signals name are personal data: only their number is
-- kept here, and their keyed blind indexes (internal/vault) in
-- abuse_signal_accounts, never the IDs in clear.
CREATE TABLE abuse_signals (
    id          bigserial PRIMARY KEY,
    incident_id uuid        NOT NULL REFERENCES incidents (id),
    batch       uuid        NOT NULL, -- one webhook call
    kind        text        NOT NULL CHECK (kind IN ('suspicious_login', 'account_takeover', 'phishing_report', 'dark_web_mention')),
    count       bigint      NOT NULL CHECK (count >= 1),
    observed_at timestamptz NOT NULL,
    accounts    integer     NOT NULL DEFAULT 0 CHECK (accounts >= 0),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX abuse_signals_incident ON abuse_signals (incident_id, kind, observed_at);

CREATE TABLE abuse_signal_accounts (
    signal_id     bigint NOT NULL REFERENCES abuse_signals (id),
    account_index bytea  NOT NULL CHECK (length(account_index) = 32),
    key_id        text   NOT NULL,
    PRIMARY KEY (signal_id, account_index)
);

-- Alerts to the DPO: a threshold of abuse signals crossed (once per kind and
-- window), or a reminder due without an approved reminder letter. mailed_at
-- is when the DPO's email left; draft_* say whether the complementary filing
-- draft (GDPR Art. 33(4)) was opened, or why not.
CREATE TABLE monitoring_alerts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id uuid        NOT NULL REFERENCES incidents (id),
    key         text        NOT NULL, -- e.g. "threshold/account_takeover/0", "reminder_letter/1"
    kind        text        NOT NULL CHECK (kind IN ('threshold', 'reminder_letter_missing')),
    signal_kind text,
    observed    bigint      NOT NULL DEFAULT 0, -- signals counted in the window
    threshold   bigint      NOT NULL DEFAULT 0,
    window_from timestamptz,
    window_to   timestamptz,
    detail      jsonb       NOT NULL DEFAULT '{}',
    raised_at   timestamptz NOT NULL DEFAULT now(),
    mailed_at   timestamptz,
    draft_seq   integer,
    draft_error text NOT NULL DEFAULT '',
    UNIQUE (incident_id, key)
);

-- Reports to the DPO, weekly and at the end of the monitoring period: the
-- HTML as mailed, with its sha256, so an auditor can check what was sent.
CREATE TABLE monitoring_reports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id  uuid        NOT NULL REFERENCES incidents (id),
    seq          integer     NOT NULL CHECK (seq >= 1),
    final        boolean     NOT NULL,
    period_from  timestamptz NOT NULL,
    period_to    timestamptz NOT NULL,
    summary      jsonb       NOT NULL, -- the counts the report shows
    html         bytea       NOT NULL,
    content_hash text        NOT NULL, -- hex sha256 of html
    created_at   timestamptz NOT NULL DEFAULT now(),
    mailed_at    timestamptz,
    UNIQUE (incident_id, seq)
);
