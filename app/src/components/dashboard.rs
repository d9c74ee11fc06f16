//! The read-only dashboard of a cluster: what a team watches on a wall screen, what viewers see and
//! what a shared link opens: the alerts firing, the apps and their state, the cluster's CPU and
//! memory over the last hour, the nodes. No controls: nothing here changes anything.

use leptos::prelude::*;

use super::observe::{Line, LineChart};
use super::ui::{Card, StatusBadge};
use crate::api::ram::Dashboard;
use crate::format;

#[component]
pub fn DashboardView(d: Dashboard) -> impl IntoView {
    let Dashboard { cluster: c, nodes, now, apps, firing, series } = d;
    let running = apps.iter().filter(|a| a.status == "running").count();
    let (from, to, step) = (series.from, series.to, series.step);
    let cpu = vec![Line {
        label: "CPU".into(),
        tone: "stroke-sky-500",
        points: series.points.iter().map(|p| (p.ts, p.cpu)).collect(),
    }];
    let mem = vec![Line {
        label: "used".into(),
        tone: "stroke-violet-500",
        points: series.points.iter().map(|p| (p.ts, p.mem)).collect(),
    }];
    let tiles = [
        ("Status", c.status.clone(), "dash-status"),
        ("Nodes ready", format!("{} / {}", c.ready, c.nodes), "dash-ready"),
        ("Down", c.down.to_string(), "dash-down"),
        ("Managers", c.managers.to_string(), "dash-managers"),
        ("CPUs", format::cpus(c.cpus), "dash-cpus"),
        ("Memory", format::bytes(c.memory_bytes), "dash-memory"),
        ("Apps running", format!("{running} / {}", apps.len()), "dash-apps"),
        ("Alerts firing", firing.len().to_string(), "dash-firing"),
    ];
    let squares: Vec<(String, String)> = nodes.iter().map(|n| (n.name.clone(), n.state.clone())).collect();
    view! {
        {(!firing.is_empty()).then(|| view! {
            <section class="rounded-xl border border-red-200 bg-red-50 p-5 dark:border-red-900 dark:bg-red-950/60" data-testid="dash-alerts">
                <h2 class="mb-2 text-sm font-semibold uppercase tracking-wide text-red-800 dark:text-red-200">{format!("{} firing", format::count(firing.len() as i64, "alert"))}</h2>
                <ul class="space-y-1 text-sm">
                    {firing.into_iter().map(|a| view! {
                        <li data-testid="dash-alert"><span class="font-semibold">{a.rule_name}</span>" · "{a.message}
                            <span class="text-slate-700 dark:text-slate-300">{format!(" · since {}", format::time_of_day_utc(a.fired_at))}</span></li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <div class="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-8">
            {tiles.into_iter().map(|(label, value, testid)| view! {
                <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                    <div class="text-xs uppercase tracking-wide text-slate-500">{label}</div>
                    <div class="mt-1 truncate text-2xl font-semibold tabular-nums" data-testid=testid>{value}</div>
                </div>
            }).collect_view()}
        </div>
        <Card title="Apps">
            {if apps.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="dash-no-apps">"No apps on this cluster."</p> }.into_any()
            } else {
                view! {
                    <ul class="grid gap-2 sm:grid-cols-2 lg:grid-cols-3" data-testid="dash-apps-list">
                        {apps.into_iter().map(|a| view! {
                            <li class="flex items-center justify-between gap-2 rounded-lg border border-slate-200 px-3 py-2 dark:border-slate-800" data-testid="dash-app" data-name=a.name.clone()>
                                <span class="truncate font-medium">{a.name.clone()}</span>
                                <span class="flex items-center gap-2 text-xs text-slate-500">{format!("v{}", a.version)}<StatusBadge status=a.status.clone() /></span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Card>
        <div class="grid gap-4 md:grid-cols-2">
            <LineChart title="Cluster CPU, last hour (% of one core)" testid="dash-cpu" lines=cpu from=from to=to step=step unit=format::percent />
            <LineChart title="Cluster memory, last hour" testid="dash-memory-chart" lines=mem from=from to=to step=step unit=|v| format::bytes(v as i64) />
        </div>
        <Card title="Nodes at a glance">
            // One square per node, coloured by state: a wall screen shows trouble from across the room.
            <div class="flex flex-wrap gap-2" data-testid="node-squares">
                {squares.into_iter().map(|(name, state)| {
                    let tone = match state.as_str() {
                        "ready" => "bg-emerald-500",
                        "pending" | "removing" => "bg-sky-500",
                        "down" => "bg-red-500",
                        _ => "bg-amber-500",
                    };
                    view! {
                        <div class=format!("grid h-14 w-14 place-items-center rounded-lg text-xs font-semibold text-white {tone}")
                            title=format!("{name}: {state}") data-state=state>
                            {name.clone()}
                        </div>
                    }
                }).collect_view()}
            </div>
        </Card>
        <Card title="Nodes">
            <div tabindex="0" role="region" aria-label="Nodes" class="overflow-x-auto">
                <table class="min-w-full whitespace-nowrap text-sm">
                    <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                        <tr>
                            <th class="py-2 pr-4">"Node"</th>
                            <th class="py-2 pr-4">"State"</th>
                            <th class="py-2 pr-4">"Role"</th>
                            <th class="py-2 pr-4">"Availability"</th>
                            <th class="py-2 pr-4">"Zone"</th>
                            <th class="py-2 pr-4">"Engine"</th>
                            <th class="py-2">"Last seen"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                        {nodes.into_iter().map(|n| view! {
                            <tr data-testid=format!("dash-node-{}", n.name) data-state=n.state.clone()>
                                <td class="py-2 pr-4 font-medium">{n.name.clone()}{n.leader.then_some(" (leader)")}</td>
                                <td class="py-2 pr-4"><StatusBadge status=n.state.clone() /></td>
                                <td class="py-2 pr-4">{n.role.clone()}</td>
                                <td class="py-2 pr-4"><StatusBadge status=n.availability.clone() /></td>
                                <td class="py-2 pr-4">{n.zone.clone()}</td>
                                <td class="py-2 pr-4 text-slate-500">{n.engine_version.clone()}</td>
                                <td class="py-2 text-slate-500">{format::ago(n.seen_at, now)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </Card>
    }
}
