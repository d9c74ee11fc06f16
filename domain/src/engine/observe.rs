//! What the observability collector reads from one engine: the task containers it runs, their
//! cumulative resource counters, their log streams and the engine's events.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{EventsOptions, LogsOptions, StatsOptions};
use futures::{Stream, StreamExt};

use super::{Engine, EngineError, NodeContainer};

/// Swarm's label on task containers: the service's full name.
pub const SERVICE_LABEL: &str = "com.docker.swarm.service.name";
/// The stack (app) a task container belongs to.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

/// A container's cumulative counters at one instant, from a one-shot stats read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    /// When the engine read them, nanoseconds since the epoch.
    pub at_ns: i64,
    /// CPU time used, nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, without the page cache that can be reclaimed (as `docker stats` shows).
    pub mem: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
}

/// One line of a container's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLine {
    /// The engine's timestamp, nanoseconds since the epoch.
    pub ts: i64,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    pub text: String,
}

/// An engine event as the timeline keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineEvent {
    /// Milliseconds since the epoch.
    pub ts: i64,
    /// `container`, `service`, `node`, …
    pub kind: String,
    pub action: String,
    pub actor_id: String,
    pub attributes: HashMap<String, String>,
}

/// Lines longer than this are cut (the engine splits very long lines itself at 16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

impl Engine {
    /// Every swarm task container on this engine, running or not.
    pub async fn task_containers(&self) -> Result<Vec<NodeContainer>, EngineError> {
        self.containers_labelled(&[SERVICE_LABEL.to_string()]).await
    }

    /// A container's counters now (one-shot: the engine answers at once, without sampling twice).
    pub async fn container_counters(&self, id: &str) -> Result<Counters, EngineError> {
        let docker = self.client()?;
        let options = StatsOptions { stream: false, one_shot: true };
        let mut stream = docker.stats(id, Some(options));
        let stats = self
            .call("container stats", async { stream.next().await.transpose() })
            .await?
            .ok_or_else(|| EngineError::Api { what: "container stats", status: 500, message: "no stats".into() })?;
        let cpu = stats.cpu_stats.and_then(|c| c.cpu_usage).and_then(|u| u.total_usage).unwrap_or(0);
        let memory = stats.memory_stats.unwrap_or_default();
        let cache = memory
            .stats
            .as_ref()
            .and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied())
            .unwrap_or(0);
        let (mut rx, mut tx) = (0, 0);
        for net in stats.networks.unwrap_or_default().values() {
            rx += net.rx_bytes.unwrap_or(0);
            tx += net.tx_bytes.unwrap_or(0);
        }
        let (mut read, mut write) = (0, 0);
        for entry in stats.blkio_stats.and_then(|b| b.io_service_bytes_recursive).unwrap_or_default() {
            match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => read += entry.value.unwrap_or(0),
                Some("write") => write += entry.value.unwrap_or(0),
                _ => {}
            }
        }
        let at_ns = stats
            .read
            .and_then(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| t.unix_timestamp_nanos() as i64)
            .filter(|t| *t > 0)
            .unwrap_or_else(now_ns);
        Ok(Counters {
            at_ns,
            cpu_ns: cpu,
            mem: memory.usage.unwrap_or(0).saturating_sub(cache),
            mem_limit: memory.limit.unwrap_or(0),
            net_rx: rx,
            net_tx: tx,
            blk_read: read,
            blk_write: write,
        })
    }

    /// A container's output from `since_secs` (whole seconds since the epoch; 0 for all of it),
    /// timestamped; with `follow` the stream stays open until the container stops.
    pub fn log_lines(
        &self,
        id: &str,
        since_secs: i64,
        follow: bool,
    ) -> Result<impl Stream<Item = Result<RawLine, EngineError>> + Send + 'static, EngineError> {
        let docker = self.client()?;
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            since: since_secs.clamp(0, i32::MAX as i64) as i32,
            timestamps: true,
            tail: "all".into(),
            ..Default::default()
        };
        let endpoint = self.endpoint.to_string();
        Ok(docker.logs(id, Some(options)).map(move |item| match item {
            Ok(output) => Ok(parse_line(output)),
            Err(e) => Err(EngineError::Unreachable(format!("log stream from {endpoint} ended: {e}"))),
        }))
    }

    /// The engine's events between two instants (seconds since the epoch).
    pub async fn events_between(&self, since_secs: i64, until_secs: i64) -> Result<Vec<EngineEvent>, EngineError> {
        let docker = self.client()?;
        let options = EventsOptions {
            since: Some(since_secs.to_string()),
            until: Some(until_secs.to_string()),
            filters: Some(HashMap::from([(
                "type".to_string(),
                vec!["container".into(), "service".into(), "node".into()],
            )])),
        };
        let events: Vec<_> = self
            .call("events", async { docker.events(Some(options)).collect::<Vec<_>>().await.into_iter().collect() })
            .await?;
        Ok(events
            .into_iter()
            .map(|e: bollard::models::EventMessage| {
                let actor = e.actor.unwrap_or_default();
                EngineEvent {
                    ts: e.time_nano.map(|n| n / 1_000_000).or(e.time.map(|s| s * 1000)).unwrap_or(0),
                    kind: e.typ.map(|t| t.to_string()).unwrap_or_default(),
                    action: e.action.unwrap_or_default(),
                    actor_id: actor.id.unwrap_or_default(),
                    attributes: actor.attributes.unwrap_or_default(),
                }
            })
            .collect())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Splits the engine's `2026-11-26T16:47:33.123456789Z text` into its time and text.
fn parse_line(output: LogOutput) -> RawLine {
    let (stream, bytes) = match output {
        LogOutput::StdErr { message } => ("stderr", message),
        LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message } => {
            ("stdout", message)
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    let (ts, rest) = match text.split_once(' ') {
        Some((stamp, rest)) => match time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
        {
            Ok(t) => (t.unix_timestamp_nanos() as i64, rest),
            Err(_) => (now_ns(), text),
        },
        None => match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(t) => (t.unix_timestamp_nanos() as i64, ""),
            Err(_) => (now_ns(), text),
        },
    };
    let mut text = rest.to_string();
    if text.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    RawLine { ts, stream, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_frame_splits_into_time_and_text() {
        let line = parse_line(LogOutput::StdErr { message: "2026-11-26T16:47:33.123456789Z hello world\n".into() });
        assert_eq!(line.stream, "stderr");
        assert_eq!(line.text, "hello world");
        assert_eq!(line.ts, 1_795_711_653_123_456_789);
        let empty = parse_line(LogOutput::StdOut { message: "2026-11-26T16:47:33.000000001Z \n".into() });
        assert_eq!((empty.text.as_str(), empty.ts % 1000), ("", 1));
    }
}
