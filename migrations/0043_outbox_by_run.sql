-- A run's job found by the run: ending or cancelling many runs deletes their jobs, and
-- the relay looks for a lost run's job before queueing it again.
CREATE INDEX job_outbox_execution ON job_outbox (execution_id);
