-- Findings over time. A finding is one (tool, account, region, resource, check), its
-- fingerprint the sha256 of their normalised forms (crates/findings/src/identity.rs);
-- findings stored before this migration carry the earlier fingerprint and start no
-- history. Each tool run settles the states of its tool's findings in the transaction
-- that stores its findings: new (first failing), open (failing again), fixed (a run
-- whose scope covers it no longer fails it), reopened (failing after fixed), accepted.

-- What a run covered, so that a finding outside it keeps its state: the accounts and
-- checks its output reports, and the regions its options named (or, when they named
-- none, the regions its output reports), with `global`. A run that did not succeed or
-- whose outputs were cut fixes nothing (coverage 'partial').
ALTER TABLE tool_runs
    ADD COLUMN coverage text NOT NULL DEFAULT 'partial' CHECK (coverage IN ('whole', 'partial')),
    ADD COLUMN scope_accounts text[] NOT NULL DEFAULT '{}',
    ADD COLUMN scope_regions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN scope_checks text[] NOT NULL DEFAULT '{}';

CREATE TABLE finding_states (
    fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    tool        text NOT NULL REFERENCES tools (name),
    account     text NOT NULL,
    region      text NOT NULL,
    resource_id text NOT NULL,
    check_id    text NOT NULL,
    -- The latest words of the tool: not identity, their changes are events.
    title       text NOT NULL,
    severity    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('new', 'open', 'fixed', 'reopened', 'accepted')),
    -- Lists sort the gravest first.
    severity_rank smallint NOT NULL GENERATED ALWAYS AS (
        CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
                      WHEN 'low' THEN 3 WHEN 'informational' THEN 4 ELSE 5 END) STORED,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    fixed_at    timestamptz,
    first_run   uuid NOT NULL REFERENCES tool_runs (execution_id),
    last_run    uuid NOT NULL REFERENCES tool_runs (execution_id),
    CHECK ((state = 'fixed') = (fixed_at IS NOT NULL))
);
-- A run's fixes look up its tool's unfixed findings by account, region and check.
CREATE INDEX finding_states_unfixed ON finding_states (tool, account, check_id, region)
    WHERE state <> 'fixed';
-- GET /api/v1/findings: gravest first, then the latest seen, paged by keyset.
CREATE INDEX finding_states_listing ON finding_states (severity_rank, last_seen DESC, fingerprint);

-- Every change of a finding, with the run that made it: from_state NULL is its first
-- sighting; changes holds title or severity changes ({"severity": {"from", "to"}}).
-- Checked at commit: a run's events are written before the states they lead to.
CREATE TABLE finding_events (
    id           bigserial PRIMARY KEY,
    fingerprint  text NOT NULL REFERENCES finding_states (fingerprint) DEFERRABLE INITIALLY DEFERRED,
    execution_id uuid NOT NULL REFERENCES tool_runs (execution_id),
    at           timestamptz NOT NULL DEFAULT now(),
    from_state   text,
    to_state     text NOT NULL,
    changes      jsonb
);
CREATE INDEX finding_events_by_finding ON finding_events (fingerprint, id);

-- A finding in one run, by fingerprint: settling and diffs look findings up so, and a
-- fingerprint alone still takes this index.
DROP INDEX findings_fingerprint;
CREATE INDEX findings_fingerprint_run ON findings (fingerprint, execution_id);
CREATE INDEX finding_events_by_run ON finding_events (execution_id);
