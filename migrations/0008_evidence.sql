-- Evidence records: a report built from the scanner outputs of named executions, with
-- its files (the PDF and the JSON summary) in S3.

CREATE TABLE evidence (
    id            uuid PRIMARY KEY,
    title         text NOT NULL,
    lang          text NOT NULL CHECK (lang IN ('en', 'ko')),
    execution_ids uuid[] NOT NULL,
    summary       jsonb NOT NULL,
    created_by    uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evidence_files (
    evidence_id  uuid NOT NULL REFERENCES evidence (id),
    name         text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL,
    s3_key       text NOT NULL,
    PRIMARY KEY (evidence_id, name)
);
