-- The structured record of each dossier version (the JSON export of exactly
-- what its HTML shows), kept beside the rendered HTML so that the export of a
-- version filed long ago is the record as it was then. NULL for versions
-- drafted before this migration.
ALTER TABLE draft_versions ADD COLUMN record jsonb;
