-- Job relays LISTEN on this channel: a job is published as soon as its outbox row
-- commits, whichever api process or path wrote it, instead of at the next poll.

CREATE FUNCTION signal_job_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sage_job_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER job_outbox_signal AFTER INSERT ON job_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION signal_job_outbox();
