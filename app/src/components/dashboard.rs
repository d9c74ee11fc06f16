//! The read-only dashboard of a cluster: what a team watches on a wall screen, what viewers see and
//! what a shared link opens. No controls: nothing here changes anything.

use leptos::prelude::*;

use super::ui::{Card, StatusBadge};
use crate::api::cluster::{ClusterRow, NodeRow};
use crate::format;

#[component]
pub fn DashboardView(cluster: ClusterRow, nodes: Vec<NodeRow>, now: i64) -> impl IntoView {
    let c = cluster;
    let tiles = [
        ("Status", c.status.clone(), "dash-status"),
        ("Nodes ready", format!("{} / {}", c.ready, c.nodes), "dash-ready"),
        ("Down", c.down.to_string(), "dash-down"),
        ("Managers", c.managers.to_string(), "dash-managers"),
        ("CPUs", format::cpus(c.cpus), "dash-cpus"),
        ("Memory", format::bytes(c.memory_bytes), "dash-memory"),
    ];
    let squares: Vec<(String, String)> = nodes.iter().map(|n| (n.name.clone(), n.state.clone())).collect();
    view! {
        <div class="grid grid-cols-2 gap-4 sm:grid-cols-3 lg:grid-cols-6">
            {tiles.into_iter().map(|(label, value, testid)| view! {
                <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                    <div class="text-xs uppercase tracking-wide text-slate-500">{label}</div>
                    <div class="mt-1 truncate text-2xl font-semibold tabular-nums" data-testid=testid>{value}</div>
                </div>
            }).collect_view()}
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
            <div class="overflow-x-auto">
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
