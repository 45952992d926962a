-- How many runs of one scan may run against one account at once (with any other
-- scan's): 1 unless the scan allows more (a tool that is gentle with the API, an
-- account with high limits).
ALTER TABLE scans
    ADD COLUMN account_concurrency integer NOT NULL DEFAULT 1
        CHECK (account_concurrency BETWEEN 1 AND 100);
