-- A scan runs an account again when its run failed because the cloud's API throttled
-- the tool (the drivers exit 75): `attempts` counts the runs, `earlier_runs` keeps the
-- ones before the current, which waits queued until `release_after`. A run with sealed
-- secrets cannot be run again (they are bound to it and gone once it ended):
-- `retriable` says whether this one can.
ALTER TABLE scan_targets
    ADD COLUMN attempts integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    ADD COLUMN earlier_runs uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN retriable boolean NOT NULL DEFAULT true,
    ADD COLUMN release_after timestamptz;
