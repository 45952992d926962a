-- Retired module versions take no new runs; runs already made keep their version.
-- A table of its own, because module versions never change once written.
CREATE TABLE module_version_retirements (
    module_id  uuid NOT NULL,
    version    integer NOT NULL,
    retired_by uuid NOT NULL REFERENCES users (id),
    retired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (module_id, version),
    FOREIGN KEY (module_id, version) REFERENCES module_versions (module_id, version)
);
