-- The public keys evidence packs were signed with, as the workers that built them
-- reported (their private halves never leave the workers): GET
-- /api/v1/evidence/public-key serves the latest, or one by its id.
CREATE TABLE evidence_signing_keys (
    key_id     text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    public_key jsonb NOT NULL,
    first_used timestamptz NOT NULL DEFAULT now(),
    last_used  timestamptz NOT NULL DEFAULT now()
);
