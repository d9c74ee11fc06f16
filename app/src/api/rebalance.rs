//! A cluster's rebalancing: the plan (a dry run: each app service's running tasks per node against
//! an even spread, and what would move), and Apply (cluster admins), which runs as a job.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One node of a service's spread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpreadRow {
    pub node: String,
    pub zone: String,
    /// Running tasks now, and in an even spread.
    pub now: u64,
    pub target: u64,
}

/// One service of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServicePlanRow {
    /// The swarm service (`<app>_<service>`).
    pub service: String,
    pub app: String,
    pub replicas: u64,
    pub spread: Vec<SpreadRow>,
    /// In words: "move 1 task of shop_web from n1 to n3".
    pub moves: Vec<String>,
    pub tasks_to_move: u64,
    /// Why it is left alone, when it is.
    pub skipped: String,
}

/// A cluster's plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RebalancePlanView {
    pub services: Vec<ServicePlanRow>,
    pub tasks_to_move: u64,
    /// Whether the caller may apply it (cluster admins).
    pub manage: bool,
}

#[cfg(feature = "ssr")]
pub mod map {
    use super::*;
    use domain::rebalance::RebalancePlan;

    pub fn plan(p: RebalancePlan, manage: bool) -> RebalancePlanView {
        RebalancePlanView {
            tasks_to_move: p.tasks_to_move(),
            services: p
                .services
                .into_iter()
                .map(|s| ServicePlanRow {
                    moves: s.describe(),
                    tasks_to_move: s.tasks_to_move(),
                    spread: s
                        .spread
                        .into_iter()
                        .map(|n| SpreadRow { node: n.node, zone: n.zone, now: n.now, target: n.target })
                        .collect(),
                    service: s.service,
                    app: s.app,
                    replicas: s.replicas,
                    skipped: s.skipped,
                })
                .collect(),
            manage,
        }
    }
}

/// The cluster's rebalancing plan (nothing changes).
#[server(endpoint = "get_rebalance", output = crate::codec::Wire)]
pub async fn get_rebalance(cluster: i64) -> Result<RebalancePlanView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let plan = berth.rebalance_plan(&actor, cluster, None).await.map_err(wire)?;
    let manage = domain::authz::authorize(&actor, domain::Permission::ClusterManage(cluster)).is_ok();
    Ok(map::plan(plan, manage))
}

/// Moves the tasks the plan names (cluster admins); answers the job's id.
#[server(endpoint = "apply_rebalance", output = crate::codec::Wire)]
pub async fn apply_rebalance(cluster: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.rebalance_apply(&actor, cluster, None).await.map_err(wire)
}
