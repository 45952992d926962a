//! Log lines: stored by the worker in batches, read back by the api for replay and
//! for the whole log as text.

use chrono::{DateTime, Utc};
use sage_model::ExecutionId;
use sage_model::logs::LogLine;

use crate::{Db, StoreError};

impl Db {
    /// Stores a batch of lines in one statement. A line stored twice (a retried batch)
    /// is kept once.
    pub async fn append_log_lines(
        &self,
        execution_id: ExecutionId,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        let seqs: Vec<i64> = lines.iter().map(|l| l.seq).collect();
        let streams: Vec<&str> = lines.iter().map(|l| l.stream.as_str()).collect();
        let stamps: Vec<DateTime<Utc>> = lines.iter().map(|l| l.ts).collect();
        let texts: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO execution_logs (execution_id, seq, stream, ts, line)
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::timestamptz[], $5::text[])
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        client
            .execute(
                &statement,
                &[&execution_id.as_uuid(), &seqs, &streams, &stamps, &texts],
            )
            .await?;
        Ok(())
    }

    /// Up to `limit` lines after `after_seq`, in order.
    pub async fn log_lines(
        &self,
        execution_id: ExecutionId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogLine>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT seq, stream, ts, line FROM execution_logs
                 WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .await?;
        let rows = client
            .query(&statement, &[&execution_id.as_uuid(), &after_seq, &limit])
            .await?;
        rows.iter()
            .map(|row| {
                let stream: String = row.get(1);
                Ok(LogLine {
                    seq: row.get(0),
                    stream: stream
                        .parse()
                        .map_err(|()| StoreError::Corrupt("log stream"))?,
                    ts: row.get(2),
                    line: row.get(3),
                })
            })
            .collect()
    }
}
