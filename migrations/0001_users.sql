-- People who use Sage Runner. Provisioned on first sight (OIDC login or demo header) or
-- bootstrapped from ADMIN_EMAILS; roles and groups are refreshed from claims on login.
CREATE TABLE users (
    id           uuid PRIMARY KEY,
    email        text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    roles        text[] NOT NULL DEFAULT '{}',
    groups       text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['admin', 'approver', 'auditor']::text[])
);
CREATE UNIQUE INDEX users_email_key ON users (email);
