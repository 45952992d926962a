-- A scan may run once per account and region: a target is then keyed by its region too
-- ('' for a run that covers all of the account's regions).
ALTER TABLE scan_targets ADD COLUMN region text NOT NULL DEFAULT '';
ALTER TABLE scan_targets DROP CONSTRAINT scan_targets_pkey;
ALTER TABLE scan_targets ADD PRIMARY KEY (scan_id, account_id, region);
