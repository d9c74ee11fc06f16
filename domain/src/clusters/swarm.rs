//! Forming and joining a swarm: the steps every provider's jobs share once its nodes' engines
//! answer — join the nodes (managers one at a time), label their zones, wait until every node is
//! Ready.

use std::sync::Arc;
use std::time::Duration;

use crate::clusters::node::{Node, ZONE_LABEL};
use crate::engine::{Engine, NodeState};
use crate::error::{Error, Result};
use crate::runtime::job::JobCtx;
use crate::Berth;

impl Berth {
    /// Joins every node but `first` (managers one at a time for raft, then the workers at once).
    pub(crate) async fn join_nodes(
        &self,
        ctx: &JobCtx,
        first: &Node,
        nodes: &[(Node, Arc<Engine>)],
        worker_token: &str,
        manager_token: &str,
    ) -> Result<()> {
        let remote = format!("{}:2377", first.address);
        let others: Vec<_> = nodes.iter().filter(|(n, _)| n.id != first.id).collect();
        let total = others.len();
        let mut joined = 0;
        for (node, engine) in others.iter().filter(|(n, _)| n.is_manager()) {
            engine.swarm_join(&remote, manager_token, &node.address).await?;
            joined += 1;
            ctx.detail(format!("{joined} of {total} nodes joined")).await;
        }
        let workers = others.iter().filter(|(n, _)| !n.is_manager());
        let results = futures::future::join_all(
            workers.map(|(node, engine)| engine.swarm_join(&remote, worker_token, &node.address)),
        )
        .await;
        for result in results {
            result?;
            joined += 1;
        }
        ctx.detail(format!("{joined} of {total} nodes joined")).await;
        Ok(())
    }

    /// Puts each node's zone on its swarm node and records the swarm node ids. Each node's own engine
    /// says which swarm node it is (hostnames of existing hosts need not match Berth's node names).
    pub(crate) async fn label_zones(&self, manager: &Engine, nodes: &[(Node, Arc<Engine>)]) -> Result<()> {
        for (node, engine) in nodes {
            let swarm_id = engine.overview().await?.swarm.node_id;
            if swarm_id.is_empty() {
                return Err(Error::Engine(format!("{} did not join the swarm", node.name)));
            }
            // A node that has just joined can take a moment to show in the managers' list.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !manager.swarm_nodes().await?.iter().any(|m| m.id == swarm_id) {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Engine(format!("{} did not appear in the swarm", node.name)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let zone = node.zone.clone();
            manager
                .swarm_update_node(&swarm_id, |n| {
                    n.labels.insert(ZONE_LABEL.into(), zone.clone());
                })
                .await?;
            self.store.node_set_swarm(node.id, &swarm_id, &node.address).await?;
        }
        Ok(())
    }

    /// Waits until the swarm lists at least `count` nodes, all Ready.
    pub(crate) async fn wait_all_ready(&self, manager: &Engine, count: usize, limit: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let nodes = manager.swarm_nodes().await?;
            let ready = nodes.iter().filter(|n| n.state == NodeState::Ready).count();
            if nodes.len() >= count && ready == nodes.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Engine(format!(
                    "only {ready} of {count} nodes became Ready within {} s",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Polls an engine until it answers, for at most `limit`.
pub(crate) async fn wait_until_answers(engine: &Engine, limit: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match engine.ping().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
