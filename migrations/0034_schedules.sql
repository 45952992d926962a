-- Schedules: a module's run at each fire time of a cron expression in a time zone. The
-- database decides each fire once, whichever api replica asks: a fire is a row keyed by
-- its time, written in the transaction that moves the schedule to its next one.
CREATE TABLE schedules (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    cron text NOT NULL,
    timezone text NOT NULL,
    missed_policy text NOT NULL CHECK (missed_policy IN ('skip', 'run_once')),
    enabled boolean NOT NULL DEFAULT true,
    module_id uuid NOT NULL REFERENCES modules (id),
    module_version integer,
    -- The parameters with secrets masked, as runs show them.
    params jsonb NOT NULL,
    -- The parameters whole, sealed with the deployment's key and the schedule's id.
    sealed_params bytea NOT NULL,
    owner uuid NOT NULL REFERENCES users (id),
    version integer NOT NULL DEFAULT 1,
    -- The next fire time; NULL while paused or deleted.
    next_fire_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE TABLE schedule_fires (
    schedule_id uuid NOT NULL REFERENCES schedules (id),
    fire_at timestamptz NOT NULL,
    fired_at timestamptz NOT NULL DEFAULT now(),
    -- submitted: its run; refused: why not; missed: no scheduler ran (skip policy).
    outcome text NOT NULL CHECK (outcome IN ('submitted', 'refused', 'missed')),
    execution_id uuid REFERENCES executions (id),
    detail text,
    PRIMARY KEY (schedule_id, fire_at)
);
