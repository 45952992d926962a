-- A scan: one tool over many accounts, one run each. Its runs wait (queued, outside
-- the outbox) until the scan's dispatcher releases them within the scan's cap, one
-- run per account at a time across scans.
CREATE TABLE scans (
    id uuid PRIMARY KEY,
    tool text NOT NULL,
    -- {"account_ids": [...]} or {"account_tags": {...}}, as asked.
    selection jsonb NOT NULL,
    regions text[],
    -- The tool's options as the runs got them, secrets masked, without the accounts'.
    params jsonb NOT NULL,
    max_concurrency integer NOT NULL CHECK (max_concurrency BETWEEN 1 AND 1000),
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    requested_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX scans_running ON scans (created_at) WHERE status = 'running';
CREATE INDEX scans_newest ON scans (created_at DESC, id DESC);

ALTER TABLE executions ADD COLUMN scan_id uuid REFERENCES scans (id);

CREATE TABLE scan_targets (
    scan_id uuid NOT NULL REFERENCES scans (id),
    account_id text NOT NULL,
    position integer NOT NULL,
    -- The account's run, or why it has none (its run was refused at admission).
    execution_id uuid UNIQUE REFERENCES executions (id),
    refusal text,
    -- When the dispatcher put its run on the outbox.
    released_at timestamptz,
    PRIMARY KEY (scan_id, account_id),
    CHECK ((execution_id IS NULL) <> (refusal IS NULL))
);
CREATE INDEX scan_targets_held ON scan_targets (scan_id, position) WHERE released_at IS NULL;
CREATE INDEX scan_targets_account ON scan_targets (account_id) WHERE released_at IS NOT NULL;
