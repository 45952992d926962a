-- A standing approval: approvers other than its owner approve a schedule's version once,
-- until an expiry; each fire of that version then runs without waiting. An edit makes a
-- new version, which no approval of an older one covers.
CREATE TABLE schedule_approvals (
    schedule_id uuid NOT NULL REFERENCES schedules (id),
    schedule_version integer NOT NULL,
    approver uuid NOT NULL REFERENCES users (id),
    comment text NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, schedule_version, approver)
);
