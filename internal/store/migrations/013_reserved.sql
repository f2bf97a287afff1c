-- Placeholder on branch importfast only: migration 013 belongs to another
-- track, and tern refuses a gap before 014_people_contact.sql. At merge, the
-- other track's 013 replaces this file. A database migrated from this branch
-- alone has version 14 without that 013: make it afresh (tests and `breach
-- dev` do), never in production.
SELECT 1;
