-- An evidence build counts its attempts: a build whose worker went away (killed, out of
-- memory) is queued again until it has been tried three times, then fails for good
-- with the reason, instead of being queued again every fifteen minutes forever.
ALTER TABLE evidence ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
