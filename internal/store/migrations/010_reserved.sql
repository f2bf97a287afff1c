-- Placeholder on branch purge only: migration 010 belongs to another track,
-- and tern refuses a gap before 011_incident_keys.sql. At merge, the other
-- track's 010 replaces this file. A database migrated from this branch alone
-- has version 11 without that 010: make it afresh (tests and `breach dev`
-- do), never in production.
SELECT 1;
