-- Files a script left under /work/out, uploaded by the worker before it stores the
-- execution's end; the api lists them with presigned download URLs.

CREATE TABLE execution_artifacts (
    execution_id uuid NOT NULL REFERENCES executions (id),
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 512),
    size         bigint NOT NULL CHECK (size >= 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL,
    s3_key       text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, name)
);
