-- The catalog (scripts, modules with immutable versions, assignments) and the audit
-- trail (append-only, hash-chained) with its SIEM outbox.

CREATE TABLE scripts (
    id          uuid PRIMARY KEY,
    path        text NOT NULL UNIQUE,
    interpreter text NOT NULL CHECK (interpreter IN ('python3', 'bash', 'sh')),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    description text NOT NULL DEFAULT '',
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE modules (
    id             uuid PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    latest_version integer NOT NULL CHECK (latest_version >= 1),
    created_by     uuid NOT NULL REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE module_versions (
    module_id  uuid NOT NULL REFERENCES modules (id),
    version    integer NOT NULL CHECK (version >= 1),
    script_id  uuid NOT NULL REFERENCES scripts (id),
    -- The definition as accepted, without the name; re-checked when read.
    definition jsonb NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (module_id, version)
);

CREATE TABLE module_assignments (
    module_id      uuid NOT NULL REFERENCES modules (id),
    principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      text NOT NULL,
    can_run        boolean NOT NULL,
    can_view       boolean NOT NULL,
    PRIMARY KEY (module_id, principal_kind, principal),
    CHECK (can_run OR can_view)
);
CREATE INDEX module_assignments_principal ON module_assignments (principal_kind, principal);

CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    ip          text,
    user_agent  text,
    request_id  text,
    -- sha256 over the previous row's hash and this row's fields (see store/src/audit.rs).
    prev_hash   text NOT NULL,
    hash        text NOT NULL UNIQUE
);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- Rows that must not change once written: audit events and module versions.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER module_versions_immutable BEFORE UPDATE OR DELETE ON module_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Audit events waiting for delivery to SIEM_WEBHOOK_URL; a row goes once delivered.
CREATE TABLE siem_outbox (
    audit_id        bigint PRIMARY KEY REFERENCES audit_events (id),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX siem_outbox_due ON siem_outbox (next_attempt_at, audit_id);
