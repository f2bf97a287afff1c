-- The affected people of an incident: a copy of the breached data, so contact
-- data is sealed at rest (AES-GCM, key ID per row) and found through a keyed
-- hash (blind index), never in clear (DESIGN.md, personal data protection).
CREATE TABLE people (
    incident_id uuid    NOT NULL REFERENCES incidents (id),
    -- Dense 1..N within the incident: the fan-out splits the population by ID range.
    id          bigint  NOT NULL CHECK (id >= 1),
    -- HMAC-SHA256 of the normalised email: de-duplication and look-up.
    email_index bytea   NOT NULL,
    -- The data key that sealed the columns below.
    key_id      text    NOT NULL,
    -- AES-GCM sealed values (nonce || ciphertext), additional data
    -- incident_id || email_index || column name. NULL once purged.
    email       bytea,
    full_name   bytea,
    phone       bytea,
    account_id  bytea, -- the person's account at the identity provider (credential track)
    language    text    NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    merged      integer NOT NULL DEFAULT 0 CHECK (merged >= 0), -- duplicates merged into this row
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, id),
    UNIQUE (incident_id, email_index)
);
