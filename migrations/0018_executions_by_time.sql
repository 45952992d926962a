-- An admin's list of runs, newest first, and any page after a cursor, without sorting
-- the whole table. Lists filtered by module, status or requester use their own indexes.

CREATE INDEX executions_created ON executions (created_at DESC, id DESC);
