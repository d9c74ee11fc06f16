//! The tables of `clusters/`: clusters and their nodes.

use std::collections::BTreeMap;

use super::Store;
use crate::error::Result;

/// A cluster as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Cluster {
    pub id: i64,
    pub name: String,
    /// `local` or `hosts`.
    pub provider: String,
    /// `creating`, `ready`, `degraded`, `unreachable`, `deleting`.
    pub status: String,
    pub message: String,
    zones: String,
    pub swarm_id: String,
    /// The Docker network of a local cluster's node containers.
    pub network: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Cluster {
    pub fn zones(&self) -> Vec<String> {
        serde_json::from_str(&self.zones).unwrap_or_default()
    }
}

/// A cluster row about to be inserted.
#[derive(Clone, Debug)]
pub struct NewCluster {
    pub name: String,
    pub provider: String,
    pub status: String,
    pub zones: Vec<String>,
}

/// A node as stored: what Berth asked for (name, endpoint, zone) and what it last observed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Node {
    pub id: i64,
    pub cluster_id: i64,
    pub name: String,
    pub endpoint: String,
    /// The node container on the local engine (`local` provider).
    pub container: String,
    /// The address the node advertises to the swarm.
    pub address: String,
    /// `manager` or `worker`.
    pub role: String,
    pub zone: String,
    pub swarm_node_id: String,
    /// `pending`, `ready`, `down`, `unreachable`, `missing`, `removing`.
    pub state: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    pub leader: i64,
    pub engine_version: String,
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    labels: String,
    /// Why the node is in its state, when that needs saying.
    pub message: String,
    /// When Berth last reached the node's engine (Unix ms).
    pub seen_at: i64,
    pub created_at: i64,
    /// `none` (unix socket), `mtls` or `insecure` (plain tcp).
    pub tls: String,
}

impl Node {
    /// The node's swarm labels (the zone label included).
    pub fn labels(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.labels).unwrap_or_default()
    }

    /// A node row without a database, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, state: &str) -> Node {
        Node {
            id: 1,
            cluster_id: 1,
            name: name.into(),
            endpoint: "unix:///tmp/n.sock".into(),
            container: String::new(),
            address: String::new(),
            role: "worker".into(),
            zone: "a".into(),
            swarm_node_id: "abc".into(),
            state: state.into(),
            availability: "active".into(),
            leader: 0,
            engine_version: String::new(),
            nano_cpus: 0,
            memory_bytes: 0,
            labels: "{}".into(),
            message: String::new(),
            seen_at: 0,
            created_at: 0,
            tls: "none".into(),
        }
    }
}

/// A node row about to be inserted.
#[derive(Clone, Debug)]
pub struct NewNode {
    pub cluster_id: i64,
    pub name: String,
    pub endpoint: String,
    pub container: String,
    pub role: String,
    pub zone: String,
    pub state: String,
    /// `none`, `mtls` or `insecure`.
    pub tls: String,
    /// The address the node advertises to the swarm, when known beforehand (hosts).
    pub address: String,
}

/// What the reconciler saw of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeObservation {
    pub role: String,
    pub zone: String,
    pub state: String,
    pub availability: String,
    pub leader: bool,
    pub engine_version: String,
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub labels: BTreeMap<String, String>,
    pub message: String,
    pub seen_at: Option<i64>,
}

const CLUSTER_COLUMNS: &str = "id, name, provider, status, message, zones, swarm_id, network, created_at, updated_at";
const NODE_COLUMNS: &str = "id, cluster_id, name, endpoint, container, address, role, zone, swarm_node_id, state, \
     availability, leader, engine_version, nano_cpus, memory_bytes, labels, message, seen_at, created_at, tls";

impl Store {
    pub async fn cluster_insert(&self, c: &NewCluster, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO clusters (name, provider, status, zones, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&c.name)
        .bind(&c.provider)
        .bind(&c.status)
        .bind(serde_json::to_string(&c.zones)?)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn clusters(&self) -> Result<Vec<Cluster>> {
        Ok(sqlx::query_as(&format!("SELECT {CLUSTER_COLUMNS} FROM clusters ORDER BY name"))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn cluster(&self, id: i64) -> Result<Option<Cluster>> {
        Ok(sqlx::query_as(&format!("SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A cluster's workload policy allowances, as JSON (`{}` when nothing is allowed).
    pub async fn cluster_policy(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT workload_policy FROM clusters WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn cluster_set_policy(&self, id: i64, policy: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE clusters SET workload_policy = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(policy)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn cluster_by_name(&self, name: &str) -> Result<Option<Cluster>> {
        Ok(sqlx::query_as(&format!("SELECT {CLUSTER_COLUMNS} FROM clusters WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn cluster_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM clusters").fetch_one(&self.pool).await?)
    }

    /// Sets the status and its message; `true` when anything changed.
    pub async fn cluster_set_status(&self, id: i64, status: &str, message: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE clusters SET status = $2, message = $3, updated_at = $4 \
             WHERE id = $1 AND (status <> $2 OR message <> $3)",
        )
        .bind(id)
        .bind(status)
        .bind(message)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn cluster_set_swarm(&self, id: i64, swarm_id: &str, network: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE clusters SET swarm_id = $2, network = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(swarm_id)
            .bind(network)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renames; `false` when another cluster has the name (nothing changes).
    pub async fn cluster_rename(&self, id: i64, name: &str, now: i64) -> Result<bool> {
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clusters WHERE name = $1 AND id <> $2")
            .bind(name)
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        if taken > 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE clusters SET name = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    /// Deletes a cluster and (by cascade) its nodes.
    pub async fn cluster_delete(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM nodes WHERE cluster_id = $1").bind(id).execute(&self.pool).await?;
        // What was observed of it goes with it (the operation history stays).
        self.metric_forget_cluster(id).await?;
        self.traffic_forget_cluster(id).await?;
        self.log_forget_cluster(id).await?;
        for table in ["events", "alert_events", "metric_latest"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE cluster_id = $1")).bind(id).execute(&self.pool).await?;
        }
        sqlx::query("DELETE FROM leases WHERE name = $1").bind(super::cluster_lease(id)).execute(&self.pool).await?;
        sqlx::query("DELETE FROM clusters WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn node_insert(&self, n: &NewNode, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO nodes (cluster_id, name, endpoint, container, role, zone, state, created_at, tls, address) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(n.cluster_id)
        .bind(&n.name)
        .bind(&n.endpoint)
        .bind(&n.container)
        .bind(&n.role)
        .bind(&n.zone)
        .bind(&n.state)
        .bind(now)
        .bind(&n.tls)
        .bind(&n.address)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn nodes(&self, cluster_id: i64) -> Result<Vec<Node>> {
        Ok(sqlx::query_as(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE cluster_id = $1 ORDER BY id"))
            .bind(cluster_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn node(&self, id: i64) -> Result<Option<Node>> {
        Ok(sqlx::query_as(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Node counts of every cluster: `(cluster_id, nodes)`.
    pub async fn node_counts(&self) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as("SELECT cluster_id, COUNT(*) FROM nodes GROUP BY cluster_id").fetch_all(&self.pool).await?)
    }

    pub async fn node_set_swarm(&self, id: i64, swarm_node_id: &str, address: &str) -> Result<()> {
        sqlx::query("UPDATE nodes SET swarm_node_id = $2, address = $3 WHERE id = $1")
            .bind(id)
            .bind(swarm_node_id)
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn node_set_state(&self, id: i64, state: &str, message: &str) -> Result<()> {
        sqlx::query("UPDATE nodes SET state = $2, message = $3 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(message)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes what a pass observed of a node, only if the node is still in state `was` (the pass
    /// that moves a node to a new state is the one that says so, even when two overlap), with the
    /// event that tells of a change of state in the same transaction: a pass cut short between the
    /// two must not move the node without telling the timeline.
    pub async fn node_observe(
        &self,
        id: i64,
        was: &str,
        o: &NodeObservation,
        event: Option<&super::NewEvent>,
    ) -> Result<()> {
        let labels = serde_json::to_string(&o.labels)?;
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE nodes SET role = $2, zone = $3, state = $4, availability = $5, leader = $6, engine_version = $7, \
             nano_cpus = $8, memory_bytes = $9, labels = $10, message = $11 \
             WHERE id = $1 AND state = $12 AND (role <> $2 OR zone <> $3 OR state <> $4 OR availability <> $5 \
             OR leader <> $6 OR engine_version <> $7 OR nano_cpus <> $8 OR memory_bytes <> $9 OR labels <> $10 \
             OR message <> $11)",
        )
        .bind(id)
        .bind(&o.role)
        .bind(&o.zone)
        .bind(&o.state)
        .bind(&o.availability)
        .bind(o.leader as i64)
        .bind(&o.engine_version)
        .bind(o.nano_cpus)
        .bind(o.memory_bytes)
        .bind(&labels)
        .bind(&o.message)
        .bind(was)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            if let Some(event) = event {
                super::observe::insert_event(&mut tx, event).await?;
            }
        }
        tx.commit().await?;
        // "Last seen" to the nearest ten seconds is enough, and spares a write per node per pass.
        if let Some(seen) = o.seen_at {
            sqlx::query("UPDATE nodes SET seen_at = $2 WHERE id = $1 AND seen_at < $2 - 10000")
                .bind(id)
                .bind(seen)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn node_delete(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM nodes WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}
