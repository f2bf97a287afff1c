-- Replay protection for the organisation's signed webhooks (internal/webhook):
-- one row per accepted message, identified by a digest of its timestamp and
-- body, kept until the timestamp leaves the tolerance window (after which the
-- signature check refuses the message anyway). No body, no personal data.
CREATE TABLE webhook_seen (
    digest     bytea       PRIMARY KEY CHECK (length(digest) = 32),
    expires_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_seen_expires_at ON webhook_seen (expires_at);
