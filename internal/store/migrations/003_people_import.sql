-- Import of the affected people (issue 3). The delivery engine sets
-- people_locked_at (Store.LockPeople) when the send starts: from then on the
-- list is fixed and an import into the incident is refused.
ALTER TABLE incidents ADD COLUMN people_locked_at timestamptz;
