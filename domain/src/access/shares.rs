//! Shared dashboard links: an expiring, read-only link to one cluster's dashboard, for people
//! without an account; the link itself is the permission. And what a dashboard shows besides the
//! cluster's nodes (its apps, the alerts firing on it, its CPU and memory over the last hour).

use serde_json::json;

use crate::access::accounts::Issued;
use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::cluster::ClusterSummary;
use crate::error::{Error, Result};
use crate::secret::{random_token, token_hash};
use crate::store::ShareRow;
use crate::Berth;

pub const MAX_SHARE_HOURS: i64 = 24 * 90;

/// What a dashboard shows besides the cluster and its nodes: the cluster's apps, the alerts firing
/// on it, and its CPU and memory over the last hour.
#[derive(Clone, Debug)]
pub struct DashboardExtras {
    pub apps: Vec<crate::store::App>,
    pub firing: Vec<crate::store::AlertEvent>,
    pub series: crate::observe::metrics::Series,
}

impl Berth {
    /// Creates an expiring read-only link to a cluster's dashboard; the secret is returned once.
    pub async fn create_share(&self, actor: &Actor, cluster: i64, label: &str, hours: i64) -> Result<Issued> {
        let op = Op {
            action: "share.create",
            permission: Permission::ClusterManage(cluster),
            target: cluster.to_string(),
            params: json!({ "label": label, "hours": hours }),
        };
        self.mutate(actor, op, |me| async move {
            self.store.cluster(cluster).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster}")))?;
            let label = label.trim();
            if label.chars().count() > 80 || label.chars().any(char::is_control) {
                return Err(Error::invalid("label", "must be at most 80 printable characters"));
            }
            if !(1..=MAX_SHARE_HOURS).contains(&hours) {
                return Err(Error::invalid("hours", format!("must be between 1 and {MAX_SHARE_HOURS}")));
            }
            let secret = random_token()?;
            let now = now_ms();
            let expires_at = now + hours * 3_600_000;
            let id =
                self.store.share_insert(cluster, &token_hash(&secret), label, &me.username, now, expires_at).await?;
            Ok(Issued { id, secret, expires_at })
        })
        .await
    }

    pub async fn shares(&self, actor: &Actor, cluster: i64) -> Result<Vec<ShareRow>> {
        crate::authz::authorize(actor, Permission::ClusterManage(cluster))?;
        self.store.shares_of(cluster).await
    }

    pub async fn revoke_share(&self, actor: &Actor, id: i64) -> Result<()> {
        let share = self.store.share(id).await?;
        // An unknown link is refused like a link on a cluster nobody is granted (id 0).
        let cluster = share.as_ref().map_or(0, |s| s.cluster_id);
        let op = Op {
            action: "share.revoke",
            permission: Permission::ClusterManage(cluster),
            target: id.to_string(),
            params: json!({ "cluster": cluster }),
        };
        self.mutate(actor, op, |_| async move {
            if share.is_none() {
                return Err(Error::NotFound(format!("shared link {id}")));
            }
            self.store.share_revoke(id, now_ms()).await?;
            Ok(())
        })
        .await
    }

    /// The dashboard behind a shared link: the link itself is the authorization, for one cluster, read
    /// only, until it expires or is revoked.
    /// What a cluster's dashboard shows besides its nodes (viewers and up).
    pub async fn dashboard_extras(&self, actor: &Actor, cluster: i64) -> Result<DashboardExtras> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "dashboard.read", format!("cluster {cluster}"))
            .await?;
        self.extras(cluster).await
    }

    /// A shared link's dashboard whole: the cluster with its nodes and the rest (the link is the
    /// permission; it is checked once).
    pub async fn shared_dashboard_with_extras(&self, token: &str) -> Result<(ClusterSummary, DashboardExtras)> {
        let summary = self.shared_dashboard(token).await?;
        let extras = self.extras(summary.cluster.id).await?;
        Ok((summary, extras))
    }

    async fn extras(&self, cluster: i64) -> Result<DashboardExtras> {
        let apps = self.store.apps(Some(cluster)).await?;
        let firing =
            self.store.alert_events(cluster, 200).await?.into_iter().filter(|a| a.resolved_at.is_none()).collect();
        let series = self.series(cluster, "cluster", "", now_ms(), 3_600_000).await?;
        Ok(DashboardExtras { apps, firing, series })
    }

    pub async fn shared_dashboard(&self, token: &str) -> Result<ClusterSummary> {
        let gone = || Error::Forbidden("This dashboard link has expired or been revoked.".into());
        if token.len() != 64 {
            return Err(gone());
        }
        let share = self.store.share_by_hash(&token_hash(token)).await?.ok_or_else(gone)?;
        if share.revoked_at.is_some() || share.expires_at <= now_ms() {
            return Err(gone());
        }
        Ok(self.shown(self.cluster_summary(share.cluster_id).await?.ok_or_else(gone)?, false))
    }
}
