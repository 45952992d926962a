-- Retention: how many days a module's runs keep their logs, artifacts and finding
-- history (NULL: the deployment's RETENTION_DAYS), and when a run's were purged (the
-- run's own row, its audit events and its findings' current states stay).
ALTER TABLE modules
    ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 36500);
ALTER TABLE executions ADD COLUMN purged_at timestamptz;
CREATE INDEX executions_unpurged ON executions (finished_at)
    WHERE purged_at IS NULL AND finished_at IS NOT NULL;
-- A report keeps the runs it cites: the purge asks whether any report cites a run.
CREATE INDEX evidence_execution_ids ON evidence USING gin (execution_ids);
