//! Collected log lines and their full-text search (SQLite FTS5, PostgreSQL `tsvector`).

use serde::{Deserialize, Serialize};

use super::{Args, Backend, Store};
use crate::error::Result;

/// A line on its way to the store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLogLine {
    pub cluster_id: i64,
    pub node_id: i64,
    pub app: String,
    pub service: String,
    pub container_id: String,
    pub task: String,
    /// Nanoseconds since the epoch.
    pub ts: i64,
    pub stream: &'static str,
    pub line: String,
}

/// A stored line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct LogLine {
    pub id: i64,
    pub cluster_id: i64,
    pub node_id: i64,
    pub app: String,
    pub service: String,
    pub container_id: String,
    pub task: String,
    pub ts: i64,
    pub stream: String,
    pub line: String,
}

/// Which lines. Empty strings and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFilter {
    pub cluster_id: i64,
    pub app: String,
    pub service: String,
    pub container: String,
    pub node: Option<i64>,
    /// Words that must all occur in the line.
    pub q: String,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    /// A live tail: the lines stored after this id.
    pub after: Option<i64>,
    /// The page of a search before this id.
    pub before: Option<i64>,
    pub limit: i64,
}

const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Writes a batch of lines in one transaction.
    pub async fn log_insert(&self, lines: &[NewLogLine]) -> Result<()> {
        let mut tx = self.write().await?;
        for chunk in lines.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO log_lines (cluster_id, node_id, app, service, container_id, task, ts, stream, line) VALUES {}",
                self.values(chunk.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for l in chunk {
                query = query
                    .bind(l.cluster_id)
                    .bind(l.node_id)
                    .bind(&l.app)
                    .bind(&l.service)
                    .bind(&l.container_id)
                    .bind(&l.task)
                    .bind(l.ts)
                    .bind(l.stream)
                    .bind(&l.line);
            }
            query.execute(&mut *tx).await?;
        }
        let added: i64 = lines.iter().map(|l| l.line.chars().count() as i64).sum();
        sqlx::query("UPDATE log_usage SET bytes = bytes + $1 WHERE id = 1").bind(added).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The size of the kept log text (characters), as maintained by inserts and deletes.
    pub async fn log_bytes(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT bytes FROM log_usage WHERE id = 1").fetch_one(&self.pool).await?)
    }

    /// Deletes the lines `filter` selects (`$1` bound to `value`) and takes their text off the usage.
    async fn log_delete(&self, filter: &str, value: i64) -> Result<u64> {
        let mut tx = self.write().await?;
        let freed: Option<i64> =
            sqlx::query_scalar(&format!("SELECT CAST(SUM(LENGTH(line)) AS BIGINT) FROM log_lines WHERE {filter}"))
                .bind(value)
                .fetch_one(&mut *tx)
                .await?;
        let gone = sqlx::query(&format!("DELETE FROM log_lines WHERE {filter}"))
            .bind(value)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE log_usage SET bytes = bytes - $1 WHERE id = 1")
            .bind(freed.unwrap_or(0))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// The newest line's time of a container (to resume collecting after a restart).
    pub async fn log_last_ts(&self, container_id: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(ts) FROM log_lines WHERE container_id = $1")
            .bind(container_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Lines matching `f`: with `after` the oldest lines after that id (a live tail), else the newest
    /// `limit` before `before` (a search, newest page first). Returned in time order either way.
    pub async fn log_lines(&self, f: &LogFilter) -> Result<Vec<LogLine>> {
        let mut args = Args::default();
        let mut clauses = vec![format!("cluster_id = {}", args.int(f.cluster_id))];
        for (column, value) in [("app", &f.app), ("service", &f.service), ("container_id", &f.container)] {
            if !value.is_empty() {
                clauses.push(format!("{column} = {}", args.text(value)));
            }
        }
        let words = search_words(&f.q);
        if !words.is_empty() {
            clauses.push(match self.backend {
                Backend::Sqlite => {
                    let query = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" ");
                    format!("id IN (SELECT rowid FROM log_search WHERE log_search MATCH {})", args.text(query))
                }
                Backend::Postgres => {
                    format!("to_tsvector('simple', line) @@ to_tsquery('simple', {})", args.text(words.join(" & ")))
                }
            });
        }
        for (clause, value) in
            [("node_id =", f.node), ("ts >=", f.since_ns), ("ts <", f.until_ns), ("id >", f.after), ("id <", f.before)]
        {
            if let Some(v) = value {
                clauses.push(format!("{clause} {}", args.int(v)));
            }
        }
        let order_by = if f.after.is_some() { "id ASC" } else { "ts DESC, id DESC" };
        let sql = format!(
            "SELECT id, cluster_id, node_id, app, service, container_id, task, ts, stream, line FROM log_lines \
             WHERE {} ORDER BY {order_by} LIMIT {}",
            clauses.join(" AND "),
            f.limit.clamp(1, 10_000)
        );
        let query = args.bind(sqlx::query_as::<_, LogLine>(&sql));
        let mut lines = query.fetch_all(&self.pool).await?;
        lines.sort_by_key(|l| (l.ts, l.id));
        Ok(lines)
    }

    /// Deletes lines older than `before_ns`, then the oldest lines while the text kept is larger than
    /// `max_bytes`. Returns how many went. Neither sums the whole table: the age cut reads only the
    /// expiring lines (by the time index), the size cut reads the kept total from `log_usage`.
    pub async fn log_expire(&self, before_ns: i64, max_bytes: i64) -> Result<u64> {
        let mut gone = self.log_delete("ts < $1", before_ns).await?;
        let mut excess = self.log_bytes().await? - max_bytes;
        while excess > 0 {
            // The oldest lines first, a slice at a time.
            let rows: Vec<(i64, i64)> =
                sqlx::query_as("SELECT id, CAST(LENGTH(line) AS BIGINT) FROM log_lines ORDER BY id LIMIT 5000")
                    .fetch_all(&self.pool)
                    .await?;
            let Some(mut last) = rows.first().map(|r| r.0) else { break };
            for (id, len) in rows {
                last = id;
                excess -= len.max(1);
                if excess <= 0 {
                    break;
                }
            }
            gone += self.log_delete("id <= $1", last).await?;
        }
        Ok(gone)
    }

    pub async fn log_forget_cluster(&self, cluster: i64) -> Result<()> {
        self.log_delete("cluster_id = $1", cluster).await?;
        Ok(())
    }
}

/// The words of a search, letters and digits only, so that no query syntax reaches the index.
pub(crate) fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(16).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_words_drop_query_syntax() {
        assert_eq!(super::search_words("Error: \"timeout\" OR x*"), ["error", "timeout", "or", "x"]);
        assert!(super::search_words(" \"* ").is_empty());
    }
}
