-- Documents that evidence a framework's requirements no check assesses (ISMS-P's
-- management and personal-information requirements): each upload is a version of its
-- file name under its requirement, kept in S3 under evidence-docs/. An admin may mark a
-- requirement not applicable, with the reason.
CREATE TABLE evidence_documents (
    id           uuid PRIMARY KEY,
    framework    text NOT NULL REFERENCES compliance_frameworks (name),
    requirement  text NOT NULL CHECK (length(requirement) BETWEEN 1 AND 64),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    version      integer NOT NULL CHECK (version > 0),
    description  text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size > 0),
    sha256       text NOT NULL CHECK (length(sha256) = 64 AND length(decode(sha256, 'hex')) = 32),
    s3_key       text NOT NULL,
    uploaded_by  uuid NOT NULL REFERENCES users (id),
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (framework, requirement, name, version)
);

CREATE TABLE requirement_exclusions (
    framework   text NOT NULL REFERENCES compliance_frameworks (name),
    requirement text NOT NULL,
    reason      text NOT NULL CHECK (length(reason) > 0),
    marked_by   uuid NOT NULL REFERENCES users (id),
    marked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (framework, requirement)
);
