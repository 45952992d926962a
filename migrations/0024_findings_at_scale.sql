-- Findings at scale (`just bench history`: 100 runs over 1,000 accounts).

-- A fingerprint is checked without a regular expression: 64 lowercase hex digits are
-- what decodes to 32 bytes and lower() leaves alone. Per stored row the match cost
-- four times the rest of the insert.
ALTER TABLE findings DROP CONSTRAINT findings_fingerprint_check,
    ADD CONSTRAINT findings_fingerprint_check CHECK (
        octet_length(fingerprint) = 64 AND octet_length(decode(fingerprint, 'hex')) = 32
        AND fingerprint = lower(fingerprint));
ALTER TABLE finding_states DROP CONSTRAINT finding_states_fingerprint_check,
    ADD CONSTRAINT finding_states_fingerprint_check CHECK (
        octet_length(fingerprint) = 64 AND octet_length(decode(fingerprint, 'hex')) = 32
        AND fingerprint = lower(fingerprint));

-- A run's events are now written after the states they lead to: checked at once.
ALTER TABLE finding_events ALTER CONSTRAINT finding_events_fingerprint_fkey NOT DEFERRABLE;

-- Fixes no longer look states up by index (the run's scope is hashed and each state
-- tested once); lists of one account do, gravest first as every list.
DROP INDEX finding_states_unfixed;
CREATE INDEX finding_states_by_account
    ON finding_states (account, severity_rank, last_seen DESC, fingerprint);

-- How many findings of a tool stood in each state and severity at the end of each day
-- (UTC), per account and for the tool as a whole. Settling adds its run's changes to
-- the day's rows, so a day without one carries the last; a trend reads a row per day
-- and key instead of replaying every event.
CREATE TABLE finding_counts (
    tool     text NOT NULL REFERENCES tools (name),
    account  text NOT NULL,
    state    text NOT NULL CHECK (state IN ('new', 'open', 'fixed', 'reopened', 'accepted')),
    severity text NOT NULL,
    day      date NOT NULL,
    n        bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tool, account, state, severity, day)
);
CREATE TABLE finding_totals (
    tool     text NOT NULL REFERENCES tools (name),
    state    text NOT NULL CHECK (state IN ('new', 'open', 'fixed', 'reopened', 'accepted')),
    severity text NOT NULL,
    day      date NOT NULL,
    n        bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tool, state, severity, day)
);
-- Where the states stand now is where the counts start.
INSERT INTO finding_counts (tool, account, state, severity, day, n)
SELECT tool, account, state, severity, (now() AT TIME ZONE 'UTC')::date, count(*)
FROM finding_states GROUP BY tool, account, state, severity;
INSERT INTO finding_totals (tool, state, severity, day, n)
SELECT tool, state, severity, (now() AT TIME ZONE 'UTC')::date, count(*)
FROM finding_states GROUP BY tool, state, severity;
