-- Approval notices waiting for APPROVAL_WEBHOOK_URL: written in the transaction that
-- puts a run into awaiting_approval or takes it out, so a notice exists exactly when
-- the change does. The payload is frozen at that moment.

CREATE TABLE approval_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id    uuid NOT NULL REFERENCES executions (id),
    event           text NOT NULL CHECK (event IN ('approval.requested', 'approval.resolved')),
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX approval_outbox_due ON approval_outbox (next_attempt_at, id);
