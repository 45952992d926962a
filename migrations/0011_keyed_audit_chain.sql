-- The audit chain becomes an HMAC keyed outside the database (AUDIT_KEY). Rows written
-- before hold a plain SHA-256 link; they stay valid only as a prefix of the chain, below
-- its first keyed row. Adding a column fires no row trigger, so the append-only rule
-- holds.
ALTER TABLE audit_events ADD COLUMN keyed boolean NOT NULL DEFAULT false;
