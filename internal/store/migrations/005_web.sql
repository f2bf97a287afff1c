-- Web sign-in: browser sessions, sign-in throttling, and each account's language.

-- A session is known by the SHA-256 of its token: the token itself lives only
-- in the browser's cookie, so a copy of this table opens no session.
CREATE TABLE web_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL, -- absolute end, whatever the activity
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Failed sign-ins, counted per username and per client address over a sliding
-- window to slow down password guessing; shared by every `breach serve`
-- replica. The audit log keeps the record; rows here are pruned.
CREATE TABLE signin_failures (
    id       bigserial PRIMARY KEY,
    username text NOT NULL,
    ip       text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failures_username ON signin_failures (username, at);
CREATE INDEX signin_failures_ip ON signin_failures (ip, at);

-- The language the pages are shown in; '' follows the browser.
ALTER TABLE users ADD COLUMN language text NOT NULL DEFAULT '' CHECK (language IN ('', 'fr', 'en'));
