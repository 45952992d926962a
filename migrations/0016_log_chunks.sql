-- Log lines are stored in chunks of consecutive lines, one row for hundreds of them:
-- the text holds one JSON log line per line, numbered from first_seq to last_seq.
-- Replays find the chunk holding a seq by its last line.

CREATE TABLE execution_log_chunks (
    execution_id uuid NOT NULL REFERENCES executions (id),
    first_seq    bigint NOT NULL CHECK (first_seq > 0),
    last_seq     bigint NOT NULL CHECK (last_seq >= first_seq),
    lines        text NOT NULL,
    PRIMARY KEY (execution_id, last_seq)
);

-- Lines stored before chunks become chunks of one line each, in the same JSON form.
INSERT INTO execution_log_chunks (execution_id, first_seq, last_seq, lines)
SELECT execution_id, seq, seq,
       json_build_object(
           'seq', seq, 'stream', stream,
           'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'line', line
       )::text || E'\n'
FROM execution_logs;

DROP TABLE execution_logs;
