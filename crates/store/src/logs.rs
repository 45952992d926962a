//! Log lines, in chunks of consecutive lines: stored by the worker, read back by the
//! api for replay and for the whole log as text.

use sage_model::ExecutionId;
use sage_model::logs::LogChunk;

use crate::{Db, StoreError};

impl Db {
    /// Stores chunks in one statement. A chunk stored twice (a retried write) is kept
    /// once.
    ///
    /// The commit does not wait for the disk (`synchronous_commit = off`): a live line
    /// is not held back by a flush per chunk. A crash of PostgreSQL itself (not of the
    /// worker) may lose the last fraction of a second of log lines already shown live,
    /// and only while the run runs: its end is stored after its last chunk with a flush,
    /// which makes every chunk before it durable too.
    pub async fn append_log_chunks(
        &self,
        execution_id: ExecutionId,
        chunks: &[LogChunk],
    ) -> Result<(), StoreError> {
        let firsts: Vec<i64> = chunks.iter().map(LogChunk::first_seq).collect();
        let lasts: Vec<i64> = chunks.iter().map(LogChunk::last_seq).collect();
        let texts: Vec<&str> = chunks.iter().map(LogChunk::text).collect();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO execution_log_chunks (execution_id, first_seq, last_seq, lines)
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[])
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        transaction
            .execute(
                &statement,
                &[&execution_id.as_uuid(), &firsts, &lasts, &texts],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Up to `limit` chunks in order, from the one holding the line after `after_seq`
    /// on; the first may start before it.
    pub async fn log_chunks(
        &self,
        execution_id: ExecutionId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT first_seq, lines FROM execution_log_chunks
                 WHERE execution_id = $1 AND last_seq > $2 ORDER BY last_seq LIMIT $3",
            )
            .await?;
        let rows = client
            .query(&statement, &[&execution_id.as_uuid(), &after_seq, &limit])
            .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.get(1);
                LogChunk::from_parts(row.get(0), text).map_err(|_| StoreError::Corrupt("log chunk"))
            })
            .collect()
    }
}
