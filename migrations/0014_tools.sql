-- The built-in scanner tools. Their modules belong to a system user that no sign-in can
-- become (an issuer that is no URL, an unverified email that matches no assignment).
INSERT INTO users (id, email, display_name, issuer, subject, email_verified)
VALUES ('00000000-0000-0000-0000-000000000001', 'system@sage.invalid', 'Sage Runner',
        'sage:builtin', 'system', false)
ON CONFLICT DO NOTHING;

-- Which module each tool runs as, and what the workers' scanner image says about it.
CREATE TABLE tools (
    name               text PRIMARY KEY
                       CHECK (name IN ('prowler', 'scout', 'steampipe', 'custodian')),
    module_id          uuid NOT NULL UNIQUE REFERENCES modules (id),
    available          boolean NOT NULL DEFAULT false,
    tool_version       text,
    unavailable_reason text,
    reported_at        timestamptz,
    CHECK (available = (unavailable_reason IS NULL))
);

-- One row per finished tool run: its record in S3 (runs/<YYYYMM>/<id>/result.json) and
-- its finding counts, {"<status>": {"<severity>": n}}.
CREATE TABLE tool_runs (
    execution_id uuid PRIMARY KEY REFERENCES executions (id),
    tool         text NOT NULL REFERENCES tools (name),
    tool_version text,
    counts       jsonb NOT NULL,
    result_key   text NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_runs_latest ON tool_runs (tool, finished_at DESC);

-- The findings of a tool run, normalised by the findings crate. The fingerprint
-- (sha256 of account, resource and check) follows one finding across runs.
CREATE TABLE findings (
    execution_id  uuid NOT NULL REFERENCES tool_runs (execution_id),
    ordinal       integer NOT NULL,
    tool          text NOT NULL,
    check_id      text NOT NULL,
    title         text NOT NULL,
    severity      text NOT NULL,
    status        text NOT NULL,
    resource_id   text NOT NULL,
    resource_type text NOT NULL,
    region        text NOT NULL,
    account       text NOT NULL,
    fingerprint   text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (execution_id, ordinal)
);
CREATE INDEX findings_fingerprint ON findings (fingerprint);
