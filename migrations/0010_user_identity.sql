-- A user signed in through OIDC is who their issuer says: (issuer, subject), never an
-- email, which some identity providers let users set. An email grants something (an
-- assignment, ADMIN_EMAILS) only when it is verified; users made from configuration or
-- the demo header have verified emails, and only verified emails are unique.
ALTER TABLE users
    ADD COLUMN issuer text,
    ADD COLUMN subject text,
    ADD COLUMN email_verified boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT users_identity UNIQUE (issuer, subject),
    ADD CONSTRAINT users_identity_whole CHECK ((issuer IS NULL) = (subject IS NULL));
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_verified_email ON users (email) WHERE email_verified;
CREATE INDEX users_email ON users (email);
