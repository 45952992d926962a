-- Evidence reports become jobs a worker builds: a request is recorded as pending with
-- its job in the outbox, a worker takes it (building) and stores its files (ready) or
-- why it could not (failed). Reports recorded before were built in the request: ready.
ALTER TABLE evidence
    ADD COLUMN status text NOT NULL DEFAULT 'ready'
        CHECK (status IN ('pending', 'building', 'ready', 'failed')),
    ADD COLUMN error text,
    ADD COLUMN tools text[],
    ADD COLUMN max_findings_per_check integer,
    ADD COLUMN started_at timestamptz,
    ADD COLUMN finished_at timestamptz,
    ALTER COLUMN summary DROP NOT NULL;
ALTER TABLE evidence ALTER COLUMN status SET DEFAULT 'pending';
ALTER TABLE evidence ADD CONSTRAINT evidence_ready_has_summary
    CHECK ((status = 'ready') = (summary IS NOT NULL));

-- One outbox for every job: a run or a report.
ALTER TABLE job_outbox
    ALTER COLUMN execution_id DROP NOT NULL,
    ADD COLUMN evidence_id uuid REFERENCES evidence (id),
    ADD CONSTRAINT job_outbox_one_job CHECK ((execution_id IS NULL) <> (evidence_id IS NULL));
