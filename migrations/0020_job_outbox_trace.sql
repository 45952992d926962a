-- The W3C trace context of the request that queued each job, which the relay carries
-- into the message, so a trace runs from the request to the worker (NULL when spans are
-- not exported).

ALTER TABLE job_outbox ADD COLUMN traceparent text;
