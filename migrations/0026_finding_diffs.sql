-- The diff of two tool runs, kept once read: both runs are settled, so what changed
-- between them never changes (how each finding stands now is looked up when shown).
-- Each change keeps its gravest findings up to the api's largest page.
CREATE TABLE finding_diff_pairs (
    from_run uuid NOT NULL REFERENCES tool_runs (execution_id) ON DELETE CASCADE,
    to_run   uuid NOT NULL REFERENCES tool_runs (execution_id) ON DELETE CASCADE,
    kept_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_run, to_run)
);

CREATE TABLE finding_diffs (
    from_run    uuid NOT NULL,
    to_run      uuid NOT NULL,
    change      text NOT NULL
                CHECK (change IN ('new', 'reopened', 'still_open', 'fixed', 'not_covered')),
    place       integer NOT NULL CHECK (place > 0),
    fingerprint text NOT NULL,
    total       bigint NOT NULL,
    PRIMARY KEY (from_run, to_run, change, place),
    FOREIGN KEY (from_run, to_run) REFERENCES finding_diff_pairs ON DELETE CASCADE
);
