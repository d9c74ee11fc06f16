//! The observability collector: a loop per cluster that, every `collect_every`, reads each node's
//! task containers, their counters and the engine's events; follows every container's log stream;
//! writes samples and lines through batching writers; and evaluates the cluster's alert rules. A
//! maintenance loop rolls samples up per minute and applies retention.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::clusters::node::Node;
use crate::clusters::reconcile::Follower;
use crate::engine::{Counters, Engine, EngineEvent, NodeContainer, SERVICE_LABEL, STACK_LABEL};
use crate::error::Result;
use crate::observe::alerts::NewEvent;
use crate::observe::logs::NewLogLine;
use crate::observe::metrics::{aggregate, rates, Labelled, Sample, Snapshot};
use crate::store::Store;
use crate::{runtime::lease, Berth};

/// Samples and lines wait in these before their writer takes them; a full queue makes the
/// collector (and the engines' log streams) wait: backpressure instead of unbounded memory.
const SAMPLE_QUEUE: usize = 100_000;
const LINE_QUEUE: usize = 20_000;
/// Rows a writer puts in one transaction at most.
const BATCH: usize = 5_000;

#[derive(Debug, Default)]
pub(crate) struct Observatory {
    samples: OnceLock<mpsc::Sender<Sample>>,
    lines: OnceLock<mpsc::Sender<NewLogLine>>,
    /// Each cluster's newest collection, with when it was made (the autoscaler judges each one).
    latest: Mutex<HashMap<i64, (i64, Arc<Snapshot>)>>,
    /// Each cluster's containers' last counters.
    prev: Mutex<HashMap<i64, HashMap<String, Counters>>>,
    /// Containers whose log is being read, and by which cluster's collector.
    followers: Mutex<HashMap<String, (i64, JoinHandle<()>)>>,
    /// Containers stopped and read to the end, per node.
    finished: Mutex<HashMap<i64, HashSet<String>>>,
    /// The newest line read of each container (ns).
    last_line: Mutex<HashMap<String, i64>>,
    /// The newest event seen per node (ms).
    event_seen: Mutex<HashMap<i64, i64>>,
    /// Containers asked to stop (a `kill` event: swarm stopping a task for an update, a drain or a
    /// scale down, or a person), with when: their `die` that follows is a planned stop, not a crash.
    stopping: Mutex<HashMap<String, i64>>,
    loops: Mutex<HashMap<i64, JoinHandle<()>>>,
    maintenance: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a writer task that takes items off a queue and writes them in batches.
fn writer<T, F, Fut>(capacity: usize, write: F) -> mpsc::Sender<T>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let (tx, mut rx) = mpsc::channel::<T>(capacity);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            if rx.recv_many(&mut batch, BATCH).await == 0 {
                return;
            }
            // Let a burst gather before writing it.
            if batch.len() < BATCH {
                tokio::time::sleep(Duration::from_millis(100)).await;
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
            }
            if let Err(e) = write(std::mem::take(&mut batch)).await {
                tracing::warn!(error = %e, "could not write a batch of observations");
            }
        }
    });
    tx
}

/// A cluster's collection follows its reconciler: started and stopped with it (see [`Follower`]).
pub(crate) struct Collection;

impl Follower for Collection {
    fn start(&self, berth: &Berth, cluster_id: i64) {
        berth.start_observer(cluster_id);
    }

    fn stop(&self, berth: &Berth, cluster_id: i64) {
        berth.stop_observer(cluster_id);
    }
}

impl Berth {
    fn sample_writer(&self) -> mpsc::Sender<Sample> {
        self.observatory
            .samples
            .get_or_init(|| {
                let store = self.store.clone();
                writer(SAMPLE_QUEUE, move |batch| {
                    let store: Store = store.clone();
                    async move { store.metric_insert(&batch).await }
                })
            })
            .clone()
    }

    fn line_writer(&self) -> mpsc::Sender<NewLogLine> {
        self.observatory
            .lines
            .get_or_init(|| {
                let store = self.store.clone();
                writer(LINE_QUEUE, move |batch| {
                    let store: Store = store.clone();
                    async move { store.log_insert(&batch).await }
                })
            })
            .clone()
    }

    /// Queues samples for the batching writer (waits while the queue is full).
    pub async fn ingest(&self, samples: Vec<Sample>) {
        let tx = self.sample_writer();
        for s in samples {
            if tx.send(s).await.is_err() {
                return;
            }
        }
    }

    /// Starts (or restarts) the collector of a cluster, and the maintenance loop once.
    pub(crate) fn start_observer(&self, cluster_id: i64) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.collect_every, move || {
            let berth = berth.clone();
            async move {
                if !berth.hold_lease(&lease::cluster(cluster_id), berth.cluster_lease_ttl()).await {
                    // Another replica collects: it follows the logs now.
                    berth.stop_followers(cluster_id);
                    return;
                }
                if let Err(e) = berth.collect(cluster_id).await {
                    tracing::debug!(cluster = cluster_id, error = %e, "collection failed");
                }
            }
        });
        if let Some(old) = lock(&self.observatory.loops).insert(cluster_id, handle) {
            old.abort();
        }
        let mut maintenance = lock(&self.observatory.maintenance);
        if maintenance.is_none() {
            let berth = self.clone();
            *maintenance = Some(self.every(self.config.maintain_every, move || {
                let berth = berth.clone();
                async move {
                    if !berth.hold_lease(lease::MAINTENANCE, 3 * berth.config.maintain_every).await {
                        return;
                    }
                    if let Err(e) = berth.maintain(now_ms()).await {
                        tracing::warn!(error = %e, "metric rollup or retention failed");
                    }
                }
            }));
        }
    }

    /// The newest collection of a cluster made by this process, and when: what the autoscaler
    /// measures services by.
    pub(crate) fn latest_collection(&self, cluster_id: i64) -> Option<(i64, Arc<Snapshot>)> {
        lock(&self.observatory.latest).get(&cluster_id).cloned()
    }

    /// Stops a cluster's collector and its log followers.
    pub(crate) fn stop_observer(&self, cluster_id: i64) {
        lock(&self.observatory.latest).remove(&cluster_id);
        if let Some(handle) = lock(&self.observatory.loops).remove(&cluster_id) {
            handle.abort();
        }
        self.stop_followers(cluster_id);
    }

    /// Stops reading the logs of a cluster's containers.
    fn stop_followers(&self, cluster_id: i64) {
        lock(&self.observatory.followers).retain(|_, (cluster, handle)| {
            if *cluster == cluster_id {
                handle.abort();
            }
            *cluster != cluster_id
        });
    }

    /// Takes every collection loop, follower and the maintenance loop out (on shutdown), for the
    /// caller to abort and wait for.
    pub(crate) fn take_observers(&self) -> Vec<JoinHandle<()>> {
        let mut handles: Vec<JoinHandle<()>> = lock(&self.observatory.loops).drain().map(|(_, h)| h).collect();
        handles.extend(lock(&self.observatory.followers).drain().map(|(_, (_, h))| h));
        handles.extend(lock(&self.observatory.maintenance).take());
        handles
    }

    /// Rolls up whole minutes of samples and deletes what retention no longer keeps.
    pub async fn maintain(&self, now: i64) -> Result<()> {
        // Samples of a minute may still arrive a little after it ends.
        let until = (now - 15_000) / 60_000 * 60_000;
        if let Some(from) = self.store.metric_rollup_start().await? {
            // A long pause (or the first start) rolls up in slices of an hour.
            let mut from = from.max(until - 8 * 24 * 3_600_000);
            while from < until {
                let to = (from + 3_600_000).min(until);
                self.store.metric_rollup(from, to).await?;
                from = to;
            }
        }
        let ms = |d: Duration| d.as_millis() as i64;
        self.store
            .metric_expire(now - ms(self.config.metrics_raw_retention), now - ms(self.config.metrics_retention))
            .await?;
        // The routers' request samples have no rollups: they are kept as long as raw samples.
        self.store.traffic_expire(now - ms(self.config.metrics_raw_retention)).await?;
        self.store
            .log_expire((now - ms(self.config.logs_retention)) * 1_000_000, self.config.logs_max_bytes as i64)
            .await?;
        self.store.event_expire(now - ms(self.config.events_retention)).await?;
        // The autoscaler's evaluations are chart data (as raw samples); its decisions are kept
        // as long as events.
        self.store
            .scaling_expire(now - ms(self.config.metrics_raw_retention), now - ms(self.config.events_retention))
            .await?;
        self.store.idempotency_expire(now - ms(self.config.idempotency_ttl)).await?;
        Ok(())
    }

    /// One collection over a cluster.
    pub async fn collect(&self, cluster_id: i64) -> Result<()> {
        let Some(cluster) = self.store.cluster(cluster_id).await? else { return Ok(()) };
        if matches!(cluster.status.as_str(), "creating" | "deleting" | "failed") {
            return Ok(());
        }
        let all = self.store.nodes(cluster_id).await?;
        let nodes: Vec<&Node> = all.iter().filter(|n| matches!(n.state.as_str(), "ready" | "unknown")).collect();
        // One manager reports the swarm's own events (services, nodes); every node its containers'.
        let swarm_reporter =
            nodes.iter().filter(|n| n.is_manager()).min_by_key(|n| (n.leader == 0, n.id)).map(|n| n.id);
        let now = now_ms();
        let reads = futures::future::join_all(
            nodes.iter().map(|n| self.collect_node(cluster_id, n, Some(n.id) == swarm_reporter, now)),
        )
        .await;

        let complete = !reads.is_empty() && reads.iter().all(Option::is_some);
        // When no node answered there is nothing to tell: a gap in the charts, not zeros.
        let answered = reads.iter().any(Option::is_some);
        let mut containers: Vec<Labelled> = Vec::new();
        let mut events: Vec<NewEvent> = Vec::new();
        let mut counters: HashMap<String, Counters> = HashMap::new();
        let mut active: HashSet<(String, String)> = HashSet::new();
        for (node, read) in nodes.iter().zip(reads) {
            let Some(read) = read else { continue };
            containers.extend(read.samples);
            events.extend(read.events);
            counters.extend(read.counters);
            for service in read.running {
                active.insert(("service".into(), service));
                active.insert(("node".into(), node.id.to_string()));
                active.insert(("cluster".into(), String::new()));
            }
        }
        lock(&self.observatory.prev).insert(cluster_id, counters);

        let node_ids: BTreeMap<String, i64> = nodes.iter().map(|n| (n.name.clone(), n.id)).collect();
        let samples = aggregate(cluster_id, now, &containers, &node_ids);
        let snapshot = Snapshot {
            containers,
            totals: samples.iter().filter(|s| s.scope != "container").cloned().collect(),
            node_names: nodes.iter().map(|n| (n.id.to_string(), n.name.clone())).collect(),
            active,
            complete,
        };
        if answered {
            self.ingest(samples).await;
        }
        self.store.event_insert(&events).await?;
        self.evaluate_alerts(cluster_id, &snapshot, &all, now).await?;
        // Kept for `/metrics` on every replica.
        let body = serde_json::to_string(&snapshot)?;
        if answered {
            lock(&self.observatory.latest).insert(cluster_id, (now, Arc::new(snapshot)));
        }
        self.store.metric_latest_put(cluster_id, now, &self.instance, &body).await?;
        Ok(())
    }

    async fn collect_node(&self, cluster_id: i64, node: &Node, swarm_events: bool, now: i64) -> Option<NodeRead> {
        let engine = self.node_engine(node).await.ok()?;
        let listed = engine.task_containers().await.ok()?;
        let prev = lock(&self.observatory.prev).get(&cluster_id).cloned().unwrap_or_default();

        // Counters of the running containers, all at once.
        let running: Vec<&NodeContainer> = listed.iter().filter(|c| c.running).collect();
        let reads = futures::future::join_all(running.iter().map(|c| engine.container_counters(&c.id))).await;
        let mut read = NodeRead {
            running: running.iter().map(|c| c.labels.get(SERVICE_LABEL).cloned().unwrap_or_default()).collect(),
            ..NodeRead::default()
        };
        for (c, counters) in running.iter().zip(reads) {
            let Ok(counters) = counters else { continue };
            if let Some(mut sample) = prev.get(&c.id).and_then(|p| rates(p, &counters)) {
                sample.cluster_id = cluster_id;
                sample.scope = "container".into();
                sample.key = c.id.clone();
                read.samples.push(Labelled {
                    sample,
                    node: node.name.clone(),
                    app: c.labels.get(STACK_LABEL).cloned().unwrap_or_default(),
                    service: c.labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
                    task: c.name.clone(),
                });
            }
            read.counters.insert(c.id.clone(), counters);
        }

        // Logs: follow every container not followed yet and not read to its end.
        {
            let mut finished = lock(&self.observatory.finished);
            let done = finished.entry(node.id).or_default();
            // Containers removed from the node are forgotten (their lines stay in the store).
            let removed: Vec<String> = done.iter().filter(|id| !listed.iter().any(|c| &c.id == *id)).cloned().collect();
            done.retain(|id| listed.iter().any(|c| &c.id == id && !c.running));
            let mut last = lock(&self.observatory.last_line);
            for id in removed {
                last.remove(&id);
            }
        }
        for c in &listed {
            self.follow(cluster_id, node.id, engine.clone(), c);
        }

        // Events since the newest seen.
        let seen = lock(&self.observatory.event_seen).get(&node.id).copied();
        let since = seen.unwrap_or(now - self.config.collect_every.as_millis() as i64);
        if let Ok(list) = engine.events_between(since / 1000, now / 1000 + 1).await {
            let mut newest = since;
            let mut stopping = lock(&self.observatory.stopping);
            for e in list.into_iter().filter(|e| e.ts > since) {
                newest = newest.max(e.ts);
                if e.kind == "container" && e.action == "kill" {
                    stopping.insert(e.actor_id.clone(), e.ts);
                }
                let planned = e.kind == "container" && e.action == "die" && stopping.remove(&e.actor_id).is_some();
                if e.kind == "container" || swarm_events {
                    read.events.extend(timeline_event(cluster_id, &node.name, &e, planned));
                }
            }
            // A kill that no die followed within the longest stop grace anyone sets.
            stopping.retain(|_, at| *at > now - 15 * 60_000);
            drop(stopping);
            lock(&self.observatory.event_seen).insert(node.id, newest);
        }
        Some(read)
    }

    /// Reads a container's log into the store: following it while it runs, to its end once stopped.
    fn follow(&self, cluster_id: i64, node_id: i64, engine: Arc<Engine>, c: &NodeContainer) {
        // A container not started yet has nothing to read; read now, it would count as read to
        // its end (a job's task that starts and exits between two passes would lose its lines).
        if c.created {
            return;
        }
        let mut followers = lock(&self.observatory.followers);
        if followers.contains_key(&c.id) {
            return;
        }
        if !c.running && lock(&self.observatory.finished).get(&node_id).is_some_and(|d| d.contains(&c.id)) {
            return;
        }
        let berth = self.clone();
        let c = c.clone();
        let id = c.id.clone();
        let handle = tokio::spawn(async move {
            let known = lock(&berth.observatory.last_line).get(&c.id).copied();
            let mut last = match known {
                Some(t) => t,
                None => berth.store.log_last_ts(&c.id).await.ok().flatten().unwrap_or(0),
            };
            let tx = berth.line_writer();
            let app = c.labels.get(STACK_LABEL).cloned().unwrap_or_default();
            let service = c.labels.get(SERVICE_LABEL).cloned().unwrap_or_default();
            let mut complete = false;
            if let Ok(stream) = engine.log_lines(&c.id, last / 1_000_000_000, c.running) {
                let mut stream = std::pin::pin!(stream);
                complete = true;
                while let Some(item) = stream.next().await {
                    let Ok(raw) = item else {
                        complete = false;
                        break;
                    };
                    // The engine resumes at whole seconds: skip what was stored already.
                    if raw.ts <= last {
                        continue;
                    }
                    last = raw.ts;
                    let line = NewLogLine {
                        cluster_id,
                        node_id,
                        app: app.clone(),
                        service: service.clone(),
                        container_id: c.id.clone(),
                        task: c.name.clone(),
                        ts: raw.ts,
                        stream: raw.stream,
                        line: raw.text,
                    };
                    if tx.send(line).await.is_err() {
                        break;
                    }
                    lock(&berth.observatory.last_line).insert(c.id.clone(), last);
                }
            }
            lock(&berth.observatory.last_line).insert(c.id.clone(), last);
            if complete && !c.running {
                lock(&berth.observatory.finished).entry(node_id).or_default().insert(c.id.clone());
            }
            lock(&berth.observatory.followers).remove(&c.id);
        });
        followers.insert(id, (cluster_id, handle));
    }
}

#[derive(Default)]
struct NodeRead {
    samples: Vec<Labelled>,
    counters: HashMap<String, Counters>,
    events: Vec<NewEvent>,
    /// The services of the running task containers.
    running: Vec<String>,
}

/// The timeline's entry for an engine event, for the events people look for.
/// `planned`: a container's `die` after it was asked to stop.
fn timeline_event(cluster_id: i64, node: &str, e: &EngineEvent, planned: bool) -> Option<NewEvent> {
    let attr = |k: &str| e.attributes.get(k).cloned().unwrap_or_default();
    let (severity, message) = match (e.kind.as_str(), e.action.as_str()) {
        ("container", "die") => {
            let code = attr("exitCode");
            if code == "0" {
                ("info", format!("{} stopped on {node}", attr("name")))
            } else if planned {
                ("info", format!("{} stopped on {node} as asked", attr("name")))
            } else {
                ("error", format!("{} failed on {node}: exit code {code}", attr("name")))
            }
        }
        ("container", "oom") => ("error", format!("{} ran out of memory on {node}", attr("name"))),
        ("container", "start") => ("info", format!("{} started on {node}", attr("name"))),
        ("container", a) if a.starts_with("health_status: unhealthy") => {
            ("warning", format!("{} is unhealthy on {node}", attr("name")))
        }
        ("service", "create" | "update" | "remove") => ("info", format!("service {} {}d", attr("name"), e.action)),
        ("node", "update") if !attr("state.new").is_empty() => {
            let state = attr("state.new");
            (if state == "down" { "warning" } else { "info" }, format!("node {} is {state}", attr("name")))
        }
        _ => return None,
    };
    let subject = attr("name");
    Some(NewEvent {
        cluster_id,
        ts: e.ts,
        kind: e.kind.clone(),
        action: e.action.split(':').next().unwrap_or_default().to_string(),
        app: attr(STACK_LABEL),
        service: if e.kind == "service" { subject.clone() } else { attr(SERVICE_LABEL) },
        subject,
        severity,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, action: &str, attrs: &[(&str, &str)]) -> EngineEvent {
        EngineEvent {
            ts: 5,
            kind: kind.into(),
            action: action.into(),
            actor_id: "x".into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn engine_events_become_timeline_entries() {
        let died = event(
            "container",
            "die",
            &[("name", "shop_web.1.ab"), ("exitCode", "3"), (SERVICE_LABEL, "shop_web"), (STACK_LABEL, "shop")],
        );
        let failed = timeline_event(1, "n1", &died, false).unwrap();
        // Stopped by swarm for an update, a drain or a scale down: killed first, no failure.
        let stopped = timeline_event(1, "n1", &died, true).unwrap();
        assert_eq!((stopped.severity, stopped.message.as_str()), ("info", "shop_web.1.ab stopped on n1 as asked"));
        assert_eq!((failed.severity, failed.service.as_str(), failed.app.as_str()), ("error", "shop_web", "shop"));
        assert!(failed.message.contains("exit code 3"), "{}", failed.message);
        assert_eq!(
            timeline_event(1, "n1", &event("container", "die", &[("exitCode", "0")]), false).unwrap().severity,
            "info"
        );
        assert!(timeline_event(1, "n1", &event("container", "exec_create", &[]), false).is_none());
        let down =
            timeline_event(1, "n1", &event("node", "update", &[("name", "n2"), ("state.new", "down")]), false).unwrap();
        assert_eq!((down.severity, down.message.as_str()), ("warning", "node n2 is down"));
        let updated = timeline_event(1, "n1", &event("service", "update", &[("name", "shop_web")]), false).unwrap();
        assert_eq!(updated.message, "service shop_web updated");
        assert_eq!(updated.service, "shop_web");
    }
}
