//! Apps (Compose templates deployed as swarm stacks), the template catalog and stacks to adopt.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::cluster::Access;
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRow {
    pub id: i64,
    pub cluster_id: i64,
    pub cluster_name: String,
    pub name: String,
    /// `deploying`, `running`, `stopped`, `failed`, `deleting`.
    pub status: String,
    pub message: String,
    pub version: i64,
    pub created_by: String,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableRow {
    pub name: String,
    pub default: Option<String>,
    pub required: bool,
    pub message: Option<String>,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticRow {
    /// `error` or `warning`.
    pub severity: String,
    pub line: usize,
    pub service: Option<String>,
    pub field: String,
    pub message: String,
}

/// What checking a template before deploying says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    pub ok: bool,
    pub diagnostics: Vec<DiagnosticRow>,
    /// Workload-policy refusals for this caller: `service: field: why`.
    pub violations: Vec<String>,
    pub variables: Vec<VariableRow>,
    pub services: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: i64,
    pub action: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppTaskRow {
    pub id: String,
    pub slot: Option<i64>,
    pub node: String,
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
    pub restarts: u32,
    pub container_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub name: String,
    pub image: String,
    pub global: bool,
    /// Runs to completion: `desired` is its completions, its runs are on the Jobs tab.
    pub job: bool,
    pub desired: u64,
    pub running: u64,
    pub update_state: String,
    pub update_message: String,
    pub ports: Vec<String>,
    /// Resource limits and reservations as people write them (`0.5`, `128M`), empty when unset.
    pub limit_cpus: String,
    pub limit_memory: String,
    pub reserve_cpus: String,
    pub reserve_memory: String,
    pub constraints: Vec<String>,
    pub spread: Vec<String>,
    pub tasks: Vec<AppTaskRow>,
    pub drift: Vec<String>,
    pub deployed: bool,
    /// `http://address:port` where the published ports answer.
    pub links: Vec<String>,
    /// Where the cluster's routers serve the service (its routing labels).
    pub urls: Vec<String>,
    /// In a release in progress: `old` or `new` for a pair's services, else empty.
    pub side: String,
}

/// How a progressive release steps, and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProgressiveRow {
    pub steps: Vec<u32>,
    pub interval_s: u64,
    pub max_5xx_pct: f64,
    pub max_p99_ms: f64,
    pub min_requests: u64,
    /// The index in `steps` of the weight now asked for.
    pub step: usize,
    /// When the current step ends (0 until every router serves its weight).
    pub next_at: i64,
}

/// One side's newest request numbers (from the routers' last collection).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SideTraffic {
    pub side: String,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub p99_ms: Option<f64>,
}

/// An app's blue-green release (in progress, or its last one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReleaseRow {
    pub id: i64,
    pub method: String,
    /// `starting`, `awaiting`, `confirming`, `rolling_back`, `failed`, `confirmed`, `rolled_back`.
    pub state: String,
    pub open: bool,
    pub from_version: i64,
    pub to_version: i64,
    /// (old service, new service).
    pub pairs: Vec<(String, String)>,
    /// The new side's share in percent.
    pub weight: u32,
    /// The share every router serves, once they all do.
    pub served_weight: Option<u32>,
    pub message: String,
    /// A progressive release's plan and where it stands.
    pub progressive: Option<ProgressiveRow>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppPage {
    pub app: AppRow,
    pub cluster_name: String,
    pub compose: String,
    /// Current variable values; `None` for secret-looking ones (kept unless a new value is given).
    pub vars: Vec<(String, Option<String>)>,
    pub versions: Vec<VersionRow>,
    pub services: Vec<ServiceRow>,
    pub extra_services: Vec<String>,
    pub live_error: Option<String>,
    /// Changes made by hand since the current version (a new version undoes them).
    pub by_hand: Vec<String>,
    pub release: Option<ReleaseRow>,
    /// While a release is open: each side's newest request numbers.
    pub release_traffic: Vec<SideTraffic>,
    pub access: Access,
    pub jobs: Vec<crate::api::cluster::JobRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    /// `" "`, `"+"` or `"-"`.
    pub tag: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackRow {
    pub name: String,
    pub services: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub compose: String,
    pub version: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub variables: Vec<VariableRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplatePage {
    pub template: TemplateRow,
    pub versions: Vec<VersionRow>,
    /// Whether the caller may save and delete templates.
    pub manage: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    pub app: i64,
    pub job: i64,
}

/// Variables as the console sends them: one `NAME=value` per line.
pub fn vars_to_text(vars: &[(String, String)]) -> String {
    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Domain values to DTOs, shared with the REST API.
#[cfg(feature = "ssr")]
pub mod map {
    use super::*;

    pub fn app(a: &domain::app::App) -> AppRow {
        AppRow {
            id: a.id,
            cluster_id: a.cluster_id,
            cluster_name: String::new(),
            name: a.name.clone(),
            status: a.status.clone(),
            message: a.message.clone(),
            version: a.version,
            created_by: a.created_by.clone(),
            updated_at: a.updated_at,
        }
    }

    pub fn variable(v: compose::Variable) -> VariableRow {
        VariableRow { name: v.name, default: v.default, required: v.required, message: v.message, line: v.line }
    }

    pub fn check(c: domain::app::Check) -> CheckRow {
        CheckRow {
            ok: c.ok(),
            diagnostics: c
                .diagnostics
                .into_iter()
                .map(|d| DiagnosticRow {
                    severity: match d.severity {
                        compose::Severity::Error => "error".into(),
                        compose::Severity::Warning => "warning".into(),
                    },
                    line: d.line,
                    service: d.service,
                    field: d.field,
                    message: d.message,
                })
                .collect(),
            violations: c
                .violations
                .into_iter()
                .map(|v| format!("{}: {}: {}", v.service, v.field, v.message))
                .collect(),
            variables: c.variables.into_iter().map(variable).collect(),
            services: c.services,
        }
    }

    fn cpus(nano: Option<i64>) -> String {
        nano.map(|n| {
            let s = format!("{:.3}", n as f64 / 1e9);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .unwrap_or_default()
    }

    fn memory(bytes: Option<i64>) -> String {
        match bytes {
            None => String::new(),
            Some(b) if b % (1 << 30) == 0 => format!("{}G", b >> 30),
            Some(b) if b % (1 << 20) == 0 => format!("{}M", b >> 20),
            Some(b) if b % (1 << 10) == 0 => format!("{}K", b >> 10),
            Some(b) => b.to_string(),
        }
    }

    pub fn page(d: domain::app::AppDetail, access: Access, jobs: Vec<crate::api::cluster::JobRow>) -> AppPage {
        AppPage {
            app: app(&d.app),
            cluster_name: d.cluster_name,
            compose: d.compose,
            vars: d.vars.into_iter().collect(),
            versions: d.versions.into_iter().map(version).collect(),
            services: d
                .services
                .into_iter()
                .map(|s| ServiceRow {
                    name: s.name,
                    image: s.image,
                    global: s.global,
                    job: s.job,
                    desired: s.desired,
                    running: s.running,
                    update_state: s.update_state,
                    update_message: s.update_message,
                    ports: s.ports,
                    limit_cpus: cpus(s.resources.limit_nano_cpus),
                    limit_memory: memory(s.resources.limit_memory_bytes),
                    reserve_cpus: cpus(s.resources.reserve_nano_cpus),
                    reserve_memory: memory(s.resources.reserve_memory_bytes),
                    constraints: s.constraints,
                    spread: s.spread,
                    tasks: s
                        .tasks
                        .into_iter()
                        .map(|t| AppTaskRow {
                            id: t.id,
                            slot: t.slot,
                            node: t.node,
                            state: t.state,
                            desired_state: t.desired_state,
                            message: t.message,
                            error: t.error,
                            restarts: t.restarts,
                            container_id: t.container_id,
                        })
                        .collect(),
                    drift: s.drift,
                    deployed: s.deployed,
                    links: s.links,
                    urls: s.urls,
                    side: s.side,
                })
                .collect(),
            extra_services: d.extra_services,
            live_error: d.live_error,
            by_hand: d.by_hand,
            release: d.release.map(release),
            release_traffic: Vec::new(),
            access,
            jobs,
        }
    }

    pub fn release(r: domain::release::Release) -> ReleaseRow {
        ReleaseRow {
            open: r.open(),
            id: r.id,
            method: r.method,
            state: r.state,
            from_version: r.from_version,
            to_version: r.to_version,
            pairs: r.pairs,
            weight: r.weight,
            served_weight: r.served_weight,
            message: r.message,
            progressive: r.progressive.map(|p| ProgressiveRow {
                steps: p.steps,
                interval_s: p.interval_s,
                max_5xx_pct: p.max_5xx_pct,
                max_p99_ms: p.max_p99_ms,
                min_requests: p.min_requests,
                step: p.step,
                next_at: p.next_at,
            }),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    /// A progressive plan from the Update form's fields, each error naming its field.
    pub fn progressive(
        steps: &str,
        interval: &str,
        max_5xx: &str,
        max_p99: &str,
    ) -> Result<domain::release::Progressive, AppError> {
        use super::super::ssr::invalid;
        let d = domain::release::Progressive::default();
        let steps = if steps.trim().is_empty() {
            d.steps.clone()
        } else {
            steps
                .split([',', ' ', '→'])
                .map(|w| w.trim().trim_end_matches('%'))
                .filter(|w| !w.is_empty())
                .map(|w| w.parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    invalid("steps", "the new side's weights in percent, separated by commas: 5, 25, 50, 100")
                })?
        };
        let number = |field: &str, text: &str, default: f64| -> Result<f64, AppError> {
            let t = text.trim();
            if t.is_empty() {
                return Ok(default);
            }
            t.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| invalid(field, "a number"))
        };
        let interval = number("interval", interval, d.interval_s as f64)?;
        if interval.fract() != 0.0 || interval < 0.0 {
            return Err(invalid("interval", "whole seconds per step"));
        }
        Ok(domain::release::Progressive {
            steps,
            interval_s: interval as u64,
            max_5xx_pct: number("max_5xx", max_5xx, d.max_5xx_pct)?,
            max_p99_ms: number("max_p99", max_p99, d.max_p99_ms)?,
            ..d
        })
    }

    pub fn version(v: domain::app::VersionInfo) -> VersionRow {
        VersionRow {
            version: v.version,
            action: v.action,
            note: v.note,
            created_by: v.created_by,
            created_at: v.created_at,
        }
    }

    pub fn template(t: domain::template::Template) -> TemplateRow {
        TemplateRow {
            variables: t.variables().into_iter().map(variable).collect(),
            id: t.id,
            name: t.name,
            description: t.description,
            compose: t.compose,
            version: t.version,
            created_by: t.created_by,
            updated_at: t.updated_at,
        }
    }

    /// `NAME=value` lines → variables; the error names the line.
    pub fn vars(text: &str) -> Result<std::collections::BTreeMap<String, String>, AppError> {
        let mut vars = std::collections::BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(super::super::ssr::invalid("variables", &format!("line {}: expected NAME=value", i + 1)));
            };
            vars.insert(k.trim().to_string(), v.to_string());
        }
        Ok(vars)
    }
}

#[server(endpoint = "get_apps", output = crate::codec::Wire)]
pub async fn get_apps(cluster: Option<i64>) -> Result<Vec<AppRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let names: std::collections::HashMap<i64, String> =
        berth.clusters(&actor).await.map_err(wire)?.into_iter().map(|c| (c.cluster.id, c.cluster.name)).collect();
    Ok(berth
        .apps(&actor, cluster)
        .await
        .map_err(wire)?
        .iter()
        .map(|a| AppRow { cluster_name: names.get(&a.cluster_id).cloned().unwrap_or_default(), ..map::app(a) })
        .collect())
}

/// One page of the apps the caller may see, searched and sorted on the server.
#[server(endpoint = "list_apps", output = crate::codec::Wire)]
pub async fn list_apps(
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<crate::api::list::PageRows<AppRow>, AppError> {
    let rows = get_apps(None).await?;
    crate::api::list::ssr::paged(rows, crate::api::list::ListArgs { q, sort, desc, page })
}

#[server(endpoint = "get_app", output = crate::codec::Wire)]
pub async fn get_app(id: i64) -> Result<AppPage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let detail = berth.app_detail(&actor, id).await.map_err(wire)?;
    let cluster = detail.app.cluster_id;
    let name = detail.app.name.clone();
    let jobs = berth
        .jobs(&actor, Some(cluster))
        .await
        .map_err(wire)?
        .into_iter()
        .filter(|j| j.kind.starts_with("app.") && j.target == name)
        .take(10)
        .map(crate::api::cluster::map::job)
        .collect();
    let cluster_name = detail.cluster_name.clone();
    let open = detail.release.as_ref().is_some_and(|r| r.open());
    let mut page = map::page(detail, Access::of(&actor, cluster), jobs);
    page.app.cluster_name = cluster_name;
    if open {
        // The numbers are a help, not the page: a store that cannot answer leaves them out.
        let sides = berth.traffic_now(&actor, cluster, Some(&name)).await.unwrap_or_default();
        let mut by_side: std::collections::BTreeMap<String, SideTraffic> = std::collections::BTreeMap::new();
        for s in sides {
            let t = by_side.entry(s.side.clone()).or_insert(SideTraffic {
                side: s.side.clone(),
                rps: 0.0,
                err5xx_pct: 0.0,
                p99_ms: None,
            });
            t.rps += s.rps;
            t.err5xx_pct = t.err5xx_pct.max(s.err5xx_pct);
            t.p99_ms = match (t.p99_ms, s.p99_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        page.release_traffic = by_side.into_values().collect();
    }
    Ok(page)
}

/// Checks a template (with `NAME=value` lines of variables) for a cluster before deploying.
#[server(endpoint = "check_app", output = crate::codec::Wire)]
pub async fn check_app(cluster: i64, compose: String, vars: String) -> Result<CheckRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let vars = map::vars(&vars)?;
    Ok(map::check(berth.check_app(&actor, cluster, &compose, &vars).await.map_err(wire)?))
}

#[server(endpoint = "deploy_app", output = crate::codec::Wire)]
pub async fn deploy_app(
    cluster: i64,
    name: String,
    compose: String,
    vars: String,
    template: Option<i64>,
) -> Result<Deployed, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let input =
        domain::app::AppInput { cluster_id: cluster, name, compose, vars: map::vars(&vars)?, template_id: template };
    let (app, job) = berth.deploy_app(&actor, &input).await.map_err(wire)?;
    Ok(Deployed { app, job })
}

/// What an update to `compose` would do to each service (shown on Edit before it is confirmed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub service: String,
    /// `replaced`, `in_place`, `unchanged`, `added` or `removed`.
    pub change: String,
    pub fields: Vec<String>,
}

#[server(endpoint = "preview_update", output = crate::codec::Wire)]
pub async fn preview_update(id: i64, compose: String, vars: String) -> Result<Vec<PreviewRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let rows = berth.preview_update(&actor, id, &compose, &map::vars(&vars)?).await.map_err(wire)?;
    Ok(rows.into_iter().map(|p| PreviewRow { service: p.service, change: p.change, fields: p.fields }).collect())
}

/// A new version of an app; variables not given keep their values. `method` is `rolling`,
/// `blue-green` or empty (what the template's `berth.update_method` says). Answers the job id.
#[server(endpoint = "update_app", output = crate::codec::Wire)]
pub async fn update_app(id: i64, compose: String, vars: String, method: String) -> Result<i64, AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let method = match method.as_str() {
        "" => None,
        m => Some(
            compose::UpdateMethod::parse(m)
                .ok_or_else(|| invalid("method", "must be rolling, blue-green or progressive"))?,
        ),
    };
    berth.update_app_as(&actor, id, &compose, &map::vars(&vars)?, method).await.map_err(wire)
}

/// A new version released progressively: blue-green with the weight stepped by Berth through
/// `steps` (percent, comma-separated), `interval` seconds each, while the new side stays at most
/// `max_5xx` % 5xx and `max_p99` ms p99 (empty fields take the defaults). Answers the job id.
#[server(endpoint = "release_progressive", output = crate::codec::Wire)]
pub async fn release_progressive(
    id: i64,
    compose: String,
    vars: String,
    steps: String,
    interval: String,
    max_5xx: String,
    max_p99: String,
) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let plan = map::progressive(&steps, &interval, &max_5xx, &max_p99)?;
    berth.release_app_progressive(&actor, id, &compose, &map::vars(&vars)?, plan).await.map_err(wire)
}

/// Sets the new side's share (percent) of a blue-green release's routes.
#[server(endpoint = "set_release_weight", output = crate::codec::Wire)]
pub async fn set_release_weight(id: i64, weight: String) -> Result<ReleaseRow, AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let weight: u32 = weight
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| invalid("weight", "the new side's share is a whole percentage from 0 to 100"))?;
    berth.set_release_weight(&actor, id, weight).await.map(map::release).map_err(wire)
}

/// Confirms a blue-green release (all traffic to the new side, old services removed); the job id.
#[server(endpoint = "confirm_release", output = crate::codec::Wire)]
pub async fn confirm_release(id: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.confirm_release(&actor, id).await.map_err(wire)
}

/// Rolls a blue-green release back (all traffic to the old side, new services removed); the job id.
#[server(endpoint = "rollback_release", output = crate::codec::Wire)]
pub async fn rollback_release(id: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.rollback_release(&actor, id).await.map_err(wire)
}

#[server(endpoint = "redeploy_app", output = crate::codec::Wire)]
pub async fn redeploy_app(id: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.redeploy_app(&actor, id).await.map_err(wire)
}

#[server(endpoint = "rollback_app", output = crate::codec::Wire)]
pub async fn rollback_app(id: i64, version: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.rollback_app(&actor, id, version).await.map_err(wire)
}

#[server(endpoint = "scale_service", output = crate::codec::Wire)]
pub async fn scale_service(id: i64, service: String, replicas: String) -> Result<(), AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    let replicas = number("replicas", &replicas)?;
    berth.scale_service(&actor, id, &service, replicas).await.map_err(wire)
}

/// Resource limits and reservations of a live service: CPUs as `0.5`, memory as `128M`; empty = none.
#[server(endpoint = "set_service_resources", output = crate::codec::Wire)]
pub async fn set_service_resources(
    id: i64,
    service: String,
    limit_cpus: String,
    limit_memory: String,
    reserve_cpus: String,
    reserve_memory: String,
) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let resources =
        domain::app::parse_resources(&limit_cpus, &limit_memory, &reserve_cpus, &reserve_memory).map_err(wire)?;
    berth.set_service_resources(&actor, id, &service, &resources).await.map_err(wire)
}

#[server(endpoint = "stop_app", output = crate::codec::Wire)]
pub async fn stop_app(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.stop_app(&actor, id).await.map_err(wire)
}

#[server(endpoint = "start_app", output = crate::codec::Wire)]
pub async fn start_app(id: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.start_app(&actor, id).await.map_err(wire)
}

#[server(endpoint = "delete_app", output = crate::codec::Wire)]
pub async fn delete_app(id: i64, remove_volumes: Option<String>) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_app(&actor, id, remove_volumes.is_some_and(|v| v == "on" || v == "true")).await.map_err(wire)
}

#[server(endpoint = "app_diff", output = crate::codec::Wire)]
pub async fn app_diff(id: i64, from: i64, to: i64) -> Result<Vec<DiffRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth
        .app_version_diff(&actor, id, from, to)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|l| DiffRow { tag: l.tag.to_string(), text: l.text })
        .collect())
}

#[server(endpoint = "get_stacks", output = crate::codec::Wire)]
pub async fn get_stacks(cluster: i64) -> Result<Vec<StackRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth
        .stacks(&actor, cluster)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|s| StackRow { name: s.name, services: s.services })
        .collect())
}

/// Makes a stack deployed outside Berth an app; answers the app id.
#[server(endpoint = "adopt_stack", output = crate::codec::Wire)]
pub async fn adopt_stack(cluster: i64, stack: String) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.adopt_stack(&actor, cluster, &stack).await.map_err(wire)
}

/// Checks a template's text for the catalog editor.
#[server(endpoint = "check_template", output = crate::codec::Wire)]
pub async fn check_template(compose: String) -> Result<CheckRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(map::check(berth.check_template(&actor, &compose).await.map_err(wire)?))
}

#[server(endpoint = "get_templates", output = crate::codec::Wire)]
pub async fn get_templates() -> Result<Vec<TemplateRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth.templates(&actor).await.map_err(wire)?.into_iter().map(map::template).collect())
}

/// One page of the template catalog, searched and sorted on the server.
#[server(endpoint = "list_templates", output = crate::codec::Wire)]
pub async fn list_templates(
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<crate::api::list::PageRows<TemplateRow>, AppError> {
    let rows = get_templates().await?;
    crate::api::list::ssr::paged(rows, crate::api::list::ListArgs { q, sort, desc, page })
}

#[server(endpoint = "get_template", output = crate::codec::Wire)]
pub async fn get_template(id: i64) -> Result<TemplatePage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let template = map::template(berth.template(&actor, id).await.map_err(wire)?);
    let versions = berth
        .template_versions(&actor, id)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|v| VersionRow {
            version: v.version,
            action: "save".into(),
            note: v.description,
            created_by: v.created_by,
            created_at: v.created_at,
        })
        .collect();
    let manage = domain::authz::authorize(&actor, domain::Permission::TemplateManage).is_ok();
    Ok(TemplatePage { template, versions, manage })
}

/// Saves a new template (`id` empty) or a new version of one; answers its id.
#[server(endpoint = "save_template", output = crate::codec::Wire)]
pub async fn save_template(
    id: Option<i64>,
    name: String,
    description: String,
    compose: String,
) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let input = domain::template::TemplateInput { name, description, compose };
    berth.save_template(&actor, id, &input).await.map_err(wire)
}

#[server(endpoint = "delete_template", output = crate::codec::Wire)]
pub async fn delete_template(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_template(&actor, id).await.map_err(wire)
}
