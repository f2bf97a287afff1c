-- A person's email, name, phone and account ID sealed as one record (issue
-- 3, import speed; internal/vault/contact.go). Four columns sealed one by one
-- carried a nonce and a tag each, 28 bytes apiece, and Postgres writes every
-- byte of an import several times (heap, WAL, the scans that build the
-- keys): one record instead of four values saves about a quarter of a row.
--
-- New rows have contact and has_account, and leave email, full_name, phone
-- and account_id NULL. Rows loaded before keep their sealed columns, which
-- stay readable (the data keys cannot be used here to convert them, and the
-- purge empties both forms): a person's contact data is there when contact
-- or email is not NULL, and the person has an account when has_account is
-- true or account_id is not NULL.
ALTER TABLE people ADD COLUMN contact bytea;
ALTER TABLE people ADD COLUMN has_account boolean NOT NULL DEFAULT false;
