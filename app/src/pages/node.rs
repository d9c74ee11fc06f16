//! One node: its engine and resources, labels and zone, availability, and the tasks on it.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::cluster::{get_node, NodePage, SetNodeAvailability, SetNodeLabels};
use crate::components::observe::MetricsPanel;
use crate::components::ui::{go_to, ticker, Card, ErrorBanner, Fact, PageHeader, StatusBadge, BUTTON, INPUT, PRIMARY};
use crate::format;

#[component]
pub fn NodeView() -> impl IntoView {
    let params = use_params_map();
    let ids = move || {
        let p = params.read();
        let num = |k: &str| p.get(k).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        (num("id"), num("node"))
    };
    let labels = ServerAction::<SetNodeLabels>::new();
    let availability = ServerAction::<SetNodeAvailability>::new();
    let tick = ticker(Duration::from_secs(3));
    let page = Resource::new(
        move || (ids(), tick.get(), labels.version().get() + availability.version().get()),
        |((cluster, node), _, _)| get_node(cluster, node),
    );
    let error =
        move || labels.value().get().and_then(Result::err).or_else(|| availability.value().get().and_then(Result::err));
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <NodeDetail p labels availability /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="Node · Berth" />
        <div class="mx-auto max-w-5xl space-y-6">
            {move || error().map(|e| view! { <ErrorBanner message=e.display() testid="action-error" /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            {move || {
                let (cluster, node) = ids();
                view! {
                    <Card title="Usage by the node's containers">
                        <MetricsPanel cluster scope="node" key=Signal::derive(move || node.to_string()) />
                    </Card>
                }
            }}
        </div>
    }
}

#[component]
fn NodeDetail(
    p: NodePage,
    labels: ServerAction<SetNodeLabels>,
    availability: ServerAction<SetNodeAvailability>,
) -> impl IntoView {
    let n = p.node.clone();
    let (cluster, node) = (p.cluster_id, n.id);
    let label_text = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n");
    let set = move |value: &'static str, label: &'static str| {
        view! {
            <ActionForm action=availability>
                <input type="hidden" name="cluster" value=cluster />
                <input type="hidden" name="node" value=node />
                <input type="hidden" name="availability" value=value />
                <button type="submit" class=BUTTON data-testid=format!("set-{value}")>{label}</button>
            </ActionForm>
        }
    };
    let state = n.state.clone();
    let manage = p.access.manage;
    view! {
        <PageHeader title=n.name.clone() subtitle=format!("{} of cluster {}", n.role, p.cluster_name)>
            <StatusBadge status=state testid="node-state" />
            <A href=format!("/clusters/{cluster}") attr:class=BUTTON>"Back to the cluster"</A>
        </PageHeader>
        {(!n.message.is_empty()).then(|| view! { <p class="text-sm text-amber-700 dark:text-amber-300">{n.message.clone()}</p> })}
        <div class="grid gap-6 lg:grid-cols-2">
            <Card title="Engine">
                <dl>
                    <Fact label="State" value=n.state.clone() />
                    <Fact label="Role" value=format!("{}{}", n.role, if n.leader { " (leader)" } else { "" }) testid="node-role" />
                    <Fact label="Availability" value=n.availability.clone() testid="node-availability" />
                    <Fact label="Engine version" value=n.engine_version.clone() testid="node-engine" />
                    <Fact label="CPUs" value=format::cpus(n.cpus) />
                    <Fact label="Memory" value=format::bytes(n.memory_bytes) />
                    <Fact label="Address" value=n.address.clone() />
                    <Fact label="Endpoint" value=n.endpoint.clone() />
                </dl>
                {manage.then(|| view! {
                <div class="mt-4 flex flex-wrap gap-2">
                    {(n.availability != "active").then(|| set("active", "Activate"))}
                    {(n.availability != "pause").then(|| set("pause", "Pause"))}
                    {(n.availability != "drain").then(|| set("drain", "Drain"))}
                </div>
                })}
            </Card>
            <Card title="Zone and labels">
                {if !manage {
                    view! {
                        <dl>
                            <Fact label="Zone" value=n.zone.clone() />
                            {n.labels.iter().map(|(k, v)| view! { <Fact label="Label" value=format!("{k}={v}") /> }).collect_view()}
                        </dl>
                    }.into_any()
                } else { view! {
                <ActionForm action=labels>
                    <input type="hidden" name="cluster" value=cluster />
                    <input type="hidden" name="node" value=node />
                    <div class="space-y-3">
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Zone"</span>
                            <input name="zone" class=INPUT value=n.zone.clone() data-testid="node-zone" />
                        </label>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Labels"</span>
                            <textarea name="labels" rows="4" class=format!("{INPUT} font-mono") placeholder="disk=ssd" data-testid="node-labels">{label_text}</textarea>
                            <span class="block text-xs text-slate-500">"One key=value per line. Services can be placed by them."</span>
                        </label>
                        <button type="submit" class=PRIMARY data-testid="save-labels">"Save"</button>
                    </div>
                </ActionForm>
                }.into_any() }}
            </Card>
        </div>
        <Card title="Tasks on this node">
            {p.tasks_error.clone().map(|e| view! { <ErrorBanner message=e /> })}
            {if p.tasks.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="no-tasks">"No tasks."</p> }.into_any()
            } else {
                view! {
                    <table class="min-w-full text-sm" data-testid="node-tasks">
                        <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                            <tr><th class="py-2 pr-4">"Service"</th><th class="py-2 pr-4">"Slot"</th><th class="py-2 pr-4">"State"</th><th class="py-2 pr-4">"Desired"</th><th class="py-2">"Message"</th></tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                            {p.tasks.into_iter().map(|t| view! {
                                <tr>
                                    <td class="py-2 pr-4 font-medium">{t.service}</td>
                                    <td class="py-2 pr-4 tabular-nums">{t.slot.map(|s| s.to_string()).unwrap_or_default()}</td>
                                    <td class="py-2 pr-4"><StatusBadge status=t.state /></td>
                                    <td class="py-2 pr-4 text-slate-500">{t.desired_state}</td>
                                    <td class="py-2 text-slate-500">{if t.error.is_empty() { t.message } else { t.error }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </Card>
    }
}
