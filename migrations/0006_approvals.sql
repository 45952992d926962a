-- Four-eyes approval: how many approvals a run needs, until when it may wait, and each
-- approver's decision (one per approver and run).

ALTER TABLE executions
    ADD COLUMN approvals_required  integer NOT NULL DEFAULT 0 CHECK (approvals_required >= 0),
    ADD COLUMN approval_expires_at timestamptz;
CREATE INDEX executions_approval_expiry ON executions (approval_expires_at)
    WHERE status = 'awaiting_approval';

CREATE TABLE execution_approvals (
    execution_id uuid NOT NULL REFERENCES executions (id),
    approver     uuid NOT NULL REFERENCES users (id),
    decision     text NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment      text NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, approver)
);
