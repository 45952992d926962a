-- Executions, their sealed secrets, and the outbox that feeds the job queue.

CREATE TABLE executions (
    id               uuid PRIMARY KEY,
    module_id        uuid NOT NULL,
    module_version   integer NOT NULL,
    requested_by     uuid NOT NULL REFERENCES users (id),
    -- Validated parameters with every secret shown as "***".
    params           jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('awaiting_approval', 'queued', 'running',
                         'succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'lost')),
    reason           text,
    exit_code        integer,
    worker_id        text,
    lease_expires_at timestamptz,
    output_bytes     bigint NOT NULL DEFAULT 0,
    truncated        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    FOREIGN KEY (module_id, module_version) REFERENCES module_versions (module_id, version)
);
CREATE INDEX executions_requested_by ON executions (requested_by, created_at DESC);
CREATE INDEX executions_module ON executions (module_id, created_at DESC);
CREATE INDEX executions_status ON executions (status, created_at DESC);

-- Secret parameters, sealed with AES-256-GCM (SECRETS_KEY) and bound to the execution;
-- deleted when the execution ends.
CREATE TABLE execution_secrets (
    execution_id uuid PRIMARY KEY REFERENCES executions (id),
    sealed       bytea NOT NULL
);

-- Jobs waiting to be published to RabbitMQ; a row goes once the broker confirmed it.
CREATE TABLE job_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id    uuid NOT NULL REFERENCES executions (id),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_outbox_due ON job_outbox (next_attempt_at, id);
