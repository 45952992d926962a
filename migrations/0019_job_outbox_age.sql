-- When each job was written, so that the metrics can tell how long the oldest one has
-- waited for the relay (next_attempt_at moves on with every retry).

ALTER TABLE job_outbox ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
