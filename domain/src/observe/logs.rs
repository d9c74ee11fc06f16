//! Collected logs: every task container's output, kept in the store after the container is gone,
//! searched by words and filtered by cluster, app, service, container, node and time; tailed live.

use crate::authz::{Actor, Permission};
use crate::error::{Error, Result};
use crate::Berth;

pub use crate::clock::rfc3339_ns;

pub use crate::store::{LogFilter, LogLine, NewLogLine};

impl Berth {
    /// Lines of one cluster matching `filter`, in time order.
    pub async fn logs(&self, actor: &Actor, filter: &LogFilter) -> Result<Vec<LogLine>> {
        let cluster = filter.cluster_id;
        self.authorize_read(actor, Permission::ClusterRead(cluster), "logs.read", format!("cluster {cluster}")).await?;
        if filter.q.len() > 200 {
            return Err(Error::invalid("q", "is longer than 200 characters"));
        }
        if let (Some(a), Some(b)) = (filter.since_ns, filter.until_ns) {
            if a > b {
                return Err(Error::invalid("since", "is after until"));
            }
        }
        let filter =
            LogFilter { limit: if filter.limit <= 0 { 500 } else { filter.limit.min(10_000) }, ..filter.clone() };
        self.store.log_lines(&filter).await
    }

    /// The lines as a text file: `time task stream text`, one per line.
    pub async fn logs_text(&self, actor: &Actor, filter: &LogFilter) -> Result<String> {
        let lines = self.logs(actor, &LogFilter { limit: 10_000, ..filter.clone() }).await?;
        let mut out = String::with_capacity(lines.iter().map(|l| l.line.len() + 64).sum());
        for l in lines {
            out.push_str(&format!("{} {} {} {}\n", rfc3339_ns(l.ts), l.task, l.stream, l.line));
        }
        Ok(out)
    }
}
