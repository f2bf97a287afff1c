-- Closure and purge (issue 4, item 4; DESIGN.md track 5).

-- Each incident's own data key (envelope encryption, internal/vault): its
-- people's contact data and their blind index are keyed from it, and it is
-- stored only wrapped (AES-256-GCM) under a key of BREACH_DATA_KEY, whose ID
-- key_id records so that the master can rotate by re-wrapping. Made on first
-- use, in the transaction of the first import. The purge destroys it:
-- wrapped becomes NULL, destroyed_at and destroyed_by say when and by whom,
-- and every copy of what it sealed, backups included, becomes unreadable
-- (crypto-shredding, GDPR Art. 5(1)(e)). An incident purged without ever
-- having had a key gets a row with no key and destroyed_at set: no key can be
-- made for it afterwards.
CREATE TABLE incident_keys (
    incident_id  uuid PRIMARY KEY REFERENCES incidents (id),
    key_id       text,  -- the BREACH_DATA_KEY key that wraps (wrapped) it; kept after the purge
    wrapped      bytea, -- nonce || sealed key || tag; NULL once destroyed
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz,
    destroyed_at timestamptz,
    destroyed_by text,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL)),
    CHECK (destroyed_at IS NOT NULL OR key_id IS NOT NULL)
);

-- When the contact data of the incident's people is due to be destroyed:
-- set when the incident is closed (closed_at + the retention period the
-- workflow carries, BREACH_RETENTION_AFTER_CLOSE), and frozen with it. NULL
-- for incidents closed before this migration: they are not purged
-- automatically.
ALTER TABLE incidents ADD COLUMN purge_after timestamptz;

-- Closing an incident freezes its register entry (Art. 33(5)): the entry is
-- the incident row, its assessments, its drafts and its filings (store.Register).
-- Every writer in internal/store checks the state under the incident's row
-- lock and refuses a closed incident; these triggers make the database refuse
-- it too, whatever the code path, so that the register of a closed incident
-- cannot drift. SQLSTATE BR409 (store.mapErr: conflict).
CREATE FUNCTION breach_refuse_closed_incident() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inc uuid;
BEGIN
    IF TG_TABLE_NAME = 'incidents' THEN
        RAISE EXCEPTION 'incident is closed: its register entry is frozen' USING ERRCODE = 'BR409';
    END IF;
    IF TG_OP = 'DELETE' THEN
        inc := OLD.incident_id;
    ELSE
        inc := NEW.incident_id;
    END IF;
    IF EXISTS (SELECT 1 FROM incidents WHERE id = inc AND state = 'closed') THEN
        RAISE EXCEPTION 'incident is closed: its register entry is frozen' USING ERRCODE = 'BR409';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER incidents_frozen_when_closed BEFORE UPDATE OR DELETE ON incidents
    FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION breach_refuse_closed_incident();
CREATE TRIGGER assessments_frozen_when_closed BEFORE INSERT OR UPDATE OR DELETE ON assessments
    FOR EACH ROW EXECUTE FUNCTION breach_refuse_closed_incident();
CREATE TRIGGER draft_versions_frozen_when_closed BEFORE INSERT OR UPDATE OR DELETE ON draft_versions
    FOR EACH ROW EXECUTE FUNCTION breach_refuse_closed_incident();
CREATE TRIGGER filings_frozen_when_closed BEFORE INSERT OR UPDATE OR DELETE ON filings
    FOR EACH ROW EXECUTE FUNCTION breach_refuse_closed_incident();
