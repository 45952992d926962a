-- The organisation's cloud accounts, each change kept as a version, and imports of
-- them from AWS Organizations (a worker's job).
CREATE TABLE cloud_accounts (
    id text PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (name <> ''),
    -- A role's name (expanded in each account) or its ARN in this account.
    role text NOT NULL,
    -- Sealed with the deployment's secret key, the account id as context.
    sealed_external_id bytea,
    regions text[] NOT NULL DEFAULT '{}',
    tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
    source text NOT NULL CHECK (source IN ('manual', 'organizations')),
    -- As AWS Organizations last said (ACTIVE, SUSPENDED, PENDING_CLOSURE).
    org_status text,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES users (id)
);
CREATE INDEX cloud_accounts_tags ON cloud_accounts USING gin (tags jsonb_path_ops);

CREATE TABLE cloud_account_versions (
    account_id text NOT NULL REFERENCES cloud_accounts (id),
    version integer NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    external_id_set boolean NOT NULL,
    regions text[] NOT NULL,
    tags jsonb NOT NULL,
    source text NOT NULL,
    org_status text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by uuid REFERENCES users (id),
    PRIMARY KEY (account_id, version)
);

CREATE TABLE account_imports (
    id uuid PRIMARY KEY,
    management_role_arn text NOT NULL,
    -- What accounts new to the inventory get.
    role text NOT NULL,
    regions text[] NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    requested_by uuid NOT NULL REFERENCES users (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    worker_id text,
    found integer,
    created integer,
    updated integer,
    error text
);

ALTER TABLE job_outbox
    ADD COLUMN account_import_id uuid REFERENCES account_imports (id),
    DROP CONSTRAINT job_outbox_one_job,
    ADD CONSTRAINT job_outbox_one_job CHECK (num_nonnulls(execution_id, evidence_id, account_import_id) = 1);
