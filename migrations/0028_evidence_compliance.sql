-- The compliance framework a report assesses requirement by requirement (a name the
-- workers' scanner image holds, checked at the request).
ALTER TABLE evidence
    ADD COLUMN compliance text CHECK (compliance ~ '^[a-z0-9]+([._][a-z0-9]+){0,31}$');
