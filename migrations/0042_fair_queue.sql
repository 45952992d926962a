-- A run is in RabbitMQ from its job's publication until a worker starts it: the relay
-- keeps at most QUEUE_AHEAD runs there and picks the next ones across users in turn,
-- so one user's flood waits in PostgreSQL and not in front of everyone else's runs.
ALTER TABLE executions ADD COLUMN published_at timestamptz;
CREATE INDEX executions_in_broker ON executions (published_at)
    WHERE status = 'queued' AND published_at IS NOT NULL;

-- Runs in flight (queued or running, outside scans, which have caps of their own) per
-- user and per module, counted at each submission against RUNS_IN_FLIGHT_PER_USER and
-- RUNS_IN_FLIGHT_PER_MODULE.
CREATE INDEX executions_in_flight_by_user ON executions (requested_by)
    WHERE status IN ('queued', 'running') AND scan_id IS NULL;
CREATE INDEX executions_in_flight_by_module ON executions (module_id)
    WHERE status IN ('queued', 'running') AND scan_id IS NULL;
