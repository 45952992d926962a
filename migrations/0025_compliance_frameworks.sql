-- The compliance frameworks the workers' scanner image holds (CIS, KISA ISMS-P): each
-- with its requirements and the checks that assess them, as a worker read them from the
-- image (runner-image/scanner/build.sh writes them from Prowler's package). A framework a
-- newer image no longer holds stays until one is reported under its name again.
CREATE TABLE compliance_frameworks (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9]+([._][a-z0-9]+){0,31}$'),
    tool         text NOT NULL REFERENCES tools (name),
    tool_version text NOT NULL,
    definition   jsonb NOT NULL,
    reported_at  timestamptz NOT NULL DEFAULT now()
);
