-- Log lines of executions, redacted and numbered by the worker; the SSE endpoint
-- replays them after Last-Event-ID and serves the whole log as text.

CREATE TABLE execution_logs (
    execution_id uuid NOT NULL REFERENCES executions (id),
    seq          bigint NOT NULL CHECK (seq > 0),
    stream       text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    ts           timestamptz NOT NULL,
    line         text NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
