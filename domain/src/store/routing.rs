//! The tables of `routing/`: each cluster's routing settings and last computed table, and what
//! each router said it serves.

use super::Store;
use crate::error::Result;

/// A cluster's routing row (secrets still sealed).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RoutingRow {
    pub cluster_id: i64,
    pub root_domain: String,
    /// 1: only nodes labelled `berth.edge=true` run routers; 0: every node.
    pub edge_label: i64,
    pub cookie_secret: String,
    pub router_cert: String,
    pub router_key: String,
    pub version: i64,
    pub digest: String,
    pub updated_at: i64,
    /// The self-signed certificate served when no uploaded one names the host (key sealed).
    pub default_cert: String,
    pub default_key: String,
}

/// One router as last seen.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RouterRow {
    pub cluster_id: i64,
    /// The swarm node it runs on (its hostname as the nodes table has it).
    pub node: String,
    pub address: String,
    pub version: i64,
    pub error: String,
    pub seen_at: i64,
}

const ROUTING_COLUMNS: &str = "cluster_id, root_domain, edge_label, cookie_secret, router_cert, router_key, version, \
    digest, updated_at, default_cert, default_key";

impl Store {
    pub async fn routing(&self, cluster_id: i64) -> Result<Option<RoutingRow>> {
        Ok(sqlx::query_as(&format!("SELECT {ROUTING_COLUMNS} FROM cluster_routing WHERE cluster_id = $1"))
            .bind(cluster_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Creates a cluster's routing row with its secrets if it has none (a second caller's insert is
    /// ignored, so both then read the same secrets).
    pub async fn routing_init(
        &self,
        cluster_id: i64,
        cookie_secret: &str,
        cert: &str,
        key: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO cluster_routing (cluster_id, cookie_secret, router_cert, router_key, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cluster_id) DO NOTHING",
        )
        .bind(cluster_id)
        .bind(cookie_secret)
        .bind(cert)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn routing_set(&self, cluster_id: i64, root_domain: &str, edge_label: bool, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE cluster_routing SET root_domain = $2, edge_label = $3, updated_at = $4 WHERE cluster_id = $1",
        )
        .bind(cluster_id)
        .bind(root_domain)
        .bind(i64::from(edge_label))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a computed table's digest and returns its version: the stored one when the digest is
    /// unchanged, else one more (in one statement, so two replicas never hand out one version twice
    /// for different tables).
    pub async fn routing_version(&self, cluster_id: i64, digest: &str, now: i64) -> Result<i64> {
        sqlx::query(
            "UPDATE cluster_routing SET version = version + 1, digest = $2, updated_at = $3 \
             WHERE cluster_id = $1 AND digest <> $2",
        )
        .bind(cluster_id)
        .bind(digest)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar("SELECT version FROM cluster_routing WHERE cluster_id = $1")
            .bind(cluster_id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn router_seen(&self, r: &RouterRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO routers (cluster_id, node, address, version, error, seen_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (cluster_id, node) DO UPDATE SET address = $3, version = $4, error = $5, seen_at = $6",
        )
        .bind(r.cluster_id)
        .bind(&r.node)
        .bind(&r.address)
        .bind(r.version)
        .bind(&r.error)
        .bind(r.seen_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets routers of nodes that no longer run one.
    pub async fn routers_keep(&self, cluster_id: i64, nodes: &[String]) -> Result<()> {
        for r in self.routers(cluster_id).await? {
            if !nodes.contains(&r.node) {
                sqlx::query("DELETE FROM routers WHERE cluster_id = $1 AND node = $2")
                    .bind(cluster_id)
                    .bind(&r.node)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn routers(&self, cluster_id: i64) -> Result<Vec<RouterRow>> {
        Ok(sqlx::query_as(
            "SELECT cluster_id, node, address, version, error, seen_at FROM routers WHERE cluster_id = $1 ORDER BY node",
        )
        .bind(cluster_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// An uploaded certificate (its key still sealed).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CertificateRow {
    pub id: i64,
    pub cluster_id: i64,
    /// The names it is valid for, as JSON.
    pub hosts: String,
    pub cert_pem: String,
    pub key_sealed: String,
    pub not_after: i64,
    pub created_by: String,
    pub created_at: i64,
}

impl CertificateRow {
    pub fn hosts(&self) -> Vec<String> {
        serde_json::from_str(&self.hosts).unwrap_or_default()
    }
}

impl Store {
    pub async fn certificates(&self, cluster_id: i64) -> Result<Vec<CertificateRow>> {
        Ok(sqlx::query_as(
            "SELECT id, cluster_id, hosts, cert_pem, key_sealed, not_after, created_by, created_at \
             FROM routing_certificates WHERE cluster_id = $1 ORDER BY id",
        )
        .bind(cluster_id)
        .fetch_all(&self.pool)
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn certificate_insert(
        &self,
        cluster_id: i64,
        hosts: &[String],
        cert_pem: &str,
        key_sealed: &str,
        not_after: i64,
        by: &str,
        now: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO routing_certificates (cluster_id, hosts, cert_pem, key_sealed, not_after, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(cluster_id)
        .bind(serde_json::to_string(hosts)?)
        .bind(cert_pem)
        .bind(key_sealed)
        .bind(not_after)
        .bind(by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Deletes a cluster's certificate; `false` when it had none with that id.
    pub async fn certificate_delete(&self, cluster_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM routing_certificates WHERE cluster_id = $1 AND id = $2")
            .bind(cluster_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets the cluster's self-signed default certificate if it has none yet.
    pub async fn routing_default_cert(&self, cluster_id: i64, cert: &str, key_sealed: &str) -> Result<()> {
        sqlx::query("UPDATE cluster_routing SET default_cert = $2, default_key = $3 WHERE cluster_id = $1 AND default_cert = ''")
            .bind(cluster_id)
            .bind(cert)
            .bind(key_sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A load balancer of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BalancerRow {
    pub cluster_id: i64,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
}

impl Store {
    pub async fn balancers(&self, cluster_id: i64) -> Result<Vec<BalancerRow>> {
        Ok(sqlx::query_as(
            "SELECT cluster_id, name, created_by, created_at FROM load_balancers WHERE cluster_id = $1 ORDER BY name",
        )
        .bind(cluster_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a load balancer; false when the cluster has one of that name.
    pub async fn balancer_insert(&self, r: &BalancerRow) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO load_balancers (cluster_id, name, created_by, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cluster_id, name) DO NOTHING",
        )
        .bind(r.cluster_id)
        .bind(&r.name)
        .bind(&r.created_by)
        .bind(r.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn balancer_delete(&self, cluster_id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM load_balancers WHERE cluster_id = $1 AND name = $2")
            .bind(cluster_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
