-- One partition of people per incident (issue 3, import speed).
--
-- Loading millions of people into one shared table paid, per row, a foreign
-- key check and the insertion into two B-trees (one of them keyed by a random
-- hash): about three quarters of an import's time. With a partition per
-- incident, the first import of an incident loads a bare table of its own,
-- then builds its primary key and blind-index key in one sorted pass each and
-- attaches it (ATTACH validates the foreign key with one query, not one per
-- row). Later imports into the same
-- incident load the attached partition the ordinary way (store.ImportPeople).
-- Queries name the incident: the planner reads that partition only.
ALTER TABLE people RENAME TO people_unpartitioned;
ALTER TABLE people_unpartitioned RENAME CONSTRAINT people_pkey TO people_unpartitioned_pkey;

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
    created_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY LIST (incident_id);
-- The keys are each partition's: PRIMARY KEY (id) and UNIQUE (email_index),
-- the incident being the partition. Declared on people they would have to
-- lead with incident_id, a constant 16 bytes in every entry of a partition.

-- The people already loaded move to their incident's partition, named as
-- store.peoplePartition names it: people_ and the incident ID's 32 hex digits.
DO $$
DECLARE
    inc uuid;
    part text;
BEGIN
    FOR inc IN SELECT DISTINCT incident_id FROM people_unpartitioned LOOP
        part := 'people_' || replace(inc::text, '-', '');
        EXECUTE format('CREATE TABLE %I PARTITION OF people FOR VALUES IN (%L)', part, inc);
        EXECUTE format('INSERT INTO %I SELECT * FROM people_unpartitioned WHERE incident_id = %L', part, inc);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id), ADD UNIQUE (email_index)', part);
    END LOOP;
END
$$;
DROP TABLE people_unpartitioned;
