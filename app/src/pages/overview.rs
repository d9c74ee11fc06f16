//! The overview of the local Docker engine, refreshed live every few seconds.

use std::time::Duration;

use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::engine::{get_engine_overview, EngineOverview};
use crate::components::ui::{go_to, icons, ticker, Card, Fact, Icon};
use crate::error::AppError;
use crate::format;

/// How often the page asks the server again.
const REFRESH: Duration = Duration::from_secs(3);

#[component]
pub fn Overview() -> impl IntoView {
    // The machine Berth runs on is for admins: others are not sent to ask (a refusal would make the
    // whole page a 403). Everyone starts from their clusters.
    let user = crate::components::layout::use_user();
    let content = move || {
        Suspend::new(async move {
            let admin = user.await.ok().flatten().is_some_and(|u| u.admin);
            view! {
                <div class="flex flex-wrap items-end justify-between gap-2">
                    <div>
                        <h1 class="text-2xl font-semibold tracking-tight">"Overview"</h1>
                        <p class="text-sm text-slate-500 dark:text-slate-400" data-testid="overview-subtitle">
                            {if admin { "Your clusters, and the Docker engine Berth runs next to." } else { "The clusters you have access to." }}
                        </p>
                    </div>
                    <span class="inline-flex items-center gap-2 text-xs text-slate-500" title="Refreshes every few seconds">
                        <span class="relative flex h-2 w-2">
                            <span class="absolute inline-flex h-full w-full animate-ping rounded-full bg-emerald-400 opacity-75"></span>
                            <span class="relative inline-flex h-2 w-2 rounded-full bg-emerald-500"></span>
                        </span>
                        "Live"
                    </span>
                </div>
                <crate::components::observe::FiringAlerts />
                <MyClusters admin />
                {admin.then(|| view! { <Engine /> })}
            }
        })
    };
    view! {
        <Title text="Overview · Berth" />
        <div class="space-y-6">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{content}</Transition>
        </div>
    }
}

/// The local engine's facts, refreshed live (admins).
#[component]
fn Engine() -> impl IntoView {
    let tick = ticker(REFRESH);
    let overview = crate::codec::resource(move || tick.get(), |_| get_engine_overview());
    let content = move || {
        Suspend::new(async move {
            match overview.await {
                Ok(o) => Either::Left(view! { <EngineFacts o /> }),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    Either::Right(view! { <EngineDown e /> })
                }
            }
        })
    };
    view! {
        <h2 class="text-lg font-semibold tracking-tight">"This machine's Docker engine"</h2>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Asking the engine…"</p> }>{content}</Transition>
    }
}

/// The clusters the user may see, with their state, refreshed.
#[component]
fn MyClusters(admin: bool) -> impl IntoView {
    let tick = ticker(Duration::from_secs(5));
    let clusters = crate::codec::resource(move || tick.get(), |_| crate::api::cluster::get_clusters());
    view! {
        <Card title="Clusters">
            <Transition fallback=|| ()>{move || Suspend::new(async move {
                let list = match clusters.await {
                    Ok(list) => list,
                    Err(e) => {
                        if e.code == "unauthenticated" {
                            go_to("/signin");
                        }
                        return view! { <crate::components::ui::ErrorBanner message=e.display() /> }.into_any();
                    }
                };
                if list.is_empty() {
                    return if admin {
                        view! {
                            <p class="text-sm text-slate-500" data-testid="my-clusters-empty">
                                "No clusters yet. "
                                <a class="font-medium text-sky-700 hover:underline dark:text-sky-300" href="/clusters/new">"Create one in one click"</a>
                                " or add existing hosts."
                            </p>
                        }.into_any()
                    } else {
                        view! { <p class="text-sm text-slate-500" data-testid="my-clusters-empty">"You have no access to a cluster yet; an admin can grant it."</p> }.into_any()
                    };
                }
                view! {
                    <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="my-clusters">
                        {list.into_iter().map(|c| view! {
                            <li class="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="overview-cluster" data-name=c.name.clone()>
                                <a class="font-medium text-sky-700 hover:underline dark:text-sky-300" href=format!("/clusters/{}", c.id)>{c.name.clone()}</a>
                                <span class="text-slate-500">{format!("{} of {} ready", c.ready, format::count(c.nodes, "node"))}</span>
                                <crate::components::ui::StatusBadge status=c.status />
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            })}</Transition>
        </Card>
    }
}

/// Shown while the engine does not answer; the page keeps trying and recovers by itself.
#[component]
fn EngineDown(e: AppError) -> impl IntoView {
    view! {
        <div role="alert" data-testid="engine-unreachable" class="rounded-xl border border-red-200 bg-red-50 p-5 text-red-900 dark:border-red-900 dark:bg-red-950 dark:text-red-100">
            <div class="flex items-center gap-2 font-semibold">
                <Icon path=icons::ALERT />
                <span>"The Docker engine is not answering"</span>
            </div>
            <p class="mt-2 text-sm">{e.display()}</p>
            <p class="mt-2 text-xs opacity-80">"Berth keeps trying every few seconds and shows the engine again as soon as it answers."</p>
        </div>
    }
}

/// A big number with a label.
#[component]
fn Stat(label: &'static str, value: i64, testid: &'static str, tone: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-lg bg-slate-50 p-3 dark:bg-slate-800/60">
            <div class=format!("text-2xl font-semibold tabular-nums {tone}") data-testid=testid>{value}</div>
            <div class="text-xs text-slate-500 dark:text-slate-400">{label}</div>
        </div>
    }
}

#[component]
fn EngineFacts(o: EngineOverview) -> impl IntoView {
    let swarm_badge = match o.swarm_state.as_str() {
        "active" => "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
        "error" | "locked" => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
        _ => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    };
    let bar = StateBar::new(&[
        (o.containers_running, "fill-emerald-500"),
        (o.containers_paused, "fill-amber-500"),
        (o.containers_stopped, "fill-slate-400 dark:fill-slate-600"),
    ]);
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <Card title="Containers">
                <div class="grid grid-cols-2 gap-3">
                    <Stat label="running" value=o.containers_running testid="containers-running" tone="text-emerald-600 dark:text-emerald-400" />
                    <Stat label="paused" value=o.containers_paused testid="containers-paused" tone="text-amber-600 dark:text-amber-400" />
                    <Stat label="stopped" value=o.containers_stopped testid="containers-stopped" tone="text-slate-600 dark:text-slate-300" />
                    <Stat label="in total" value=o.containers_total testid="containers-total" tone="" />
                </div>
                <svg class="mt-4 h-2 w-full overflow-hidden rounded-full bg-slate-100 dark:bg-slate-800" viewBox="0 0 1000 2" preserveAspectRatio="none" role="img" aria-label="Containers by state">
                    {bar.segments.into_iter().map(|(x, w, class)| view! { <rect x=x y="0" width=w height="2" class=class></rect> }).collect_view()}
                </svg>
                <dl class="mt-4">
                    <Fact label="Images" value=o.images.to_string() testid="images" />
                </dl>
            </Card>
            <Card title="Engine">
                <dl>
                    <Fact label="Version" value=o.engine_version testid="engine-version" />
                    <Fact label="API version" value=format!("{} (min {})", o.api_version, o.min_api_version) testid="api-version" />
                    <Fact label="Endpoint" value=if o.endpoint.starts_with("unix://") { "this machine's Docker socket".to_string() } else { o.endpoint.clone() } />
                    <Fact label="Storage driver" value=o.storage_driver />
                    <Fact label="Cgroups" value=o.cgroup />
                </dl>
            </Card>
            <Card title="Host">
                <dl>
                    <Fact label="Name" value=o.name />
                    <Fact label="Operating system" value=o.os testid="os" />
                    <Fact label="Kernel" value=o.kernel testid="kernel" />
                    <Fact label="Architecture" value=format!("{} / {}", o.os_type, o.arch) />
                    <Fact label="CPUs" value=o.cpus.to_string() testid="cpus" />
                    <Fact label="Memory" value=format::bytes(o.memory_bytes) testid="memory" />
                </dl>
            </Card>
            <Card title="Swarm">
                <div class="mb-3">
                    <span class=format!("inline-flex rounded-full px-2.5 py-0.5 text-xs font-semibold {swarm_badge}") data-testid="swarm-state">
                        {o.swarm_state.clone()}
                    </span>
                </div>
                <dl>
                    {(o.swarm_state == "active").then(|| view! {
                        <Fact label="Node" value=format::short_id(&o.swarm_node_id).to_string() />
                        <Fact label="Role" value=if o.swarm_is_manager { "manager" } else { "worker" } />
                        <Fact label="Managers / nodes" value=format!("{} / {}", o.swarm_managers, o.swarm_nodes) />
                    })}
                    {(!o.swarm_error.is_empty()).then(|| view! { <Fact label="Error" value=o.swarm_error.clone() /> })}
                </dl>
                {(o.swarm_state != "active").then(|| view! {
                    <p class="text-sm text-slate-500 dark:text-slate-400">"This engine is not part of a swarm. Clusters that Berth creates run their own swarms."</p>
                })}
            </Card>
            <div class="lg:col-span-2 flex items-end justify-end text-xs text-slate-500" data-testid="updated-at">
                {format!("Updated {}", format::time_of_day_utc(o.fetched_at))}
            </div>
        </div>
    }
}

/// Proportional segments of a 100-wide stacked bar: (x, width, fill class).
struct StateBar {
    /// (x, width, class) in thousandths of the bar (integers: no float formatting in the wasm).
    segments: Vec<(u32, u32, &'static str)>,
}

impl StateBar {
    fn new(parts: &[(i64, &'static str)]) -> StateBar {
        let total: i64 = parts.iter().map(|(n, _)| (*n).max(0)).sum();
        let mut x = 0;
        let mut segments = Vec::new();
        for (n, class) in parts {
            if total == 0 || *n <= 0 {
                continue;
            }
            let w = (*n * 1000 / total) as u32;
            segments.push((x, w, *class));
            x += w;
        }
        // Rounding down leaves a sliver; the last segment takes it.
        if let Some(last) = segments.last_mut() {
            last.1 = 1000 - last.0;
        }
        StateBar { segments }
    }
}

#[cfg(test)]
mod tests {
    use super::StateBar;

    #[test]
    fn bar_segments_fill_the_width_in_proportion() {
        let bar = StateBar::new(&[(3, "a"), (0, "b"), (1, "c")]);
        assert_eq!(bar.segments, vec![(0, 750, "a"), (750, 250, "c")]);
        let thirds = StateBar::new(&[(1, "a"), (1, "b"), (1, "c")]);
        assert_eq!(thirds.segments, vec![(0, 333, "a"), (333, 333, "b"), (666, 334, "c")]);
        assert!(StateBar::new(&[(0, "a"), (0, "b")]).segments.is_empty());
    }
}
