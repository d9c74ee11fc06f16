//! One node: its engine and resources, labels and zone, availability, and the tasks on it.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::cluster::{get_node, NodePage, SetNodeAvailability, SetNodeLabels};
use crate::components::observe::MetricsPanel;
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::ui::{go_to, ticker, Card, ErrorBanner, Fact, PageHeader, StatusBadge, BUTTON, INPUT, PRIMARY};
use crate::format;
use crate::pages::cluster::AvailabilityButtons;

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
    crate::toast_on_success!(labels, "Labels saved");
    crate::toast_on_success!(availability, "Node availability changed");
    let draining = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        if let Some(Ok(())) = availability.value().get() {
            draining.set(None);
        }
    });
    let tick = ticker(Duration::from_secs(3));
    let args = use_list_args();
    let page = crate::codec::resource(
        move || (ids(), tick.get(), labels.version().get() + availability.version().get(), args.get()),
        |((cluster, node), _, _, a)| get_node(cluster, node, a.q, a.sort, a.desc, a.page),
    );
    // The zone and labels form reads the node once, and again only after a save: a refresh never
    // resets what is being typed.
    let form = crate::codec::resource(
        move || (ids(), labels.version().get()),
        |((cluster, node), _)| get_node(cluster, node, String::new(), String::new(), false, 1),
    );
    let error =
        move || labels.value().get().and_then(Result::err).or_else(|| availability.value().get().and_then(Result::err));
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <NodeDetail p availability draining /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() /> }.into_any()
                }
            }
        })
    };
    let tasks = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <NodeTasks p args /> }.into_any(),
                Err(_) => ().into_any(),
            }
        })
    };
    let labels_form = move || {
        Suspend::new(async move {
            match form.await {
                Ok(p) => view! { <LabelsCard p labels /> }.into_any(),
                Err(_) => ().into_any(),
            }
        })
    };
    view! {
        <Title text="Node · Berth" />
        <div class="space-y-6">
            {move || error().map(|e| view! { <ErrorBanner message=e.display() testid="action-error" /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            // The search sits outside the refreshing part, so a refresh never resets what is typed.
            <Card title="Tasks on this node">
                <div class="mb-3"><ListSearch args label="Search tasks" placeholder="Service, state, message" /></div>
                <Transition fallback=|| ()>{tasks}</Transition>
            </Card>
            <Transition fallback=|| ()>{labels_form}</Transition>
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
    availability: ServerAction<SetNodeAvailability>,
    draining: RwSignal<Option<i64>>,
) -> impl IntoView {
    let n = p.node.clone();
    let (cluster, node) = (p.cluster_id, n.id);
    let state = n.state.clone();
    let manage = p.access.manage;
    let busy = matches!(n.state.as_str(), "pending" | "removing");
    let title = format!("{} · {} · Berth", n.name, p.cluster_name);
    let subtitle = format!("{} of cluster {}", n.role, p.cluster_name);
    view! {
        <Title text=title />
        <nav aria-label="Breadcrumb" class="text-sm text-slate-500">
            <A href="/clusters" attr:class="hover:underline">"Clusters"</A>
            " / "
            <A href=format!("/clusters/{cluster}") attr:class="hover:underline">{p.cluster_name.clone()}</A>
            " / "
            <span aria-current="page">{n.name.clone()}</span>
        </nav>
        <PageHeader title=n.name.clone() subtitle=subtitle>
            <StatusBadge status=state testid="node-state" />
            <A href=format!("/clusters/{cluster}") attr:class=BUTTON>"Back to the cluster"</A>
        </PageHeader>
        {(!n.message.is_empty()).then(|| view! { <p class="text-sm text-amber-700 dark:text-amber-300">{n.message.clone()}</p> })}
        <Card title="Engine">
            <dl class="grid gap-x-8 sm:grid-cols-2">
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
                <AvailabilityButtons cluster node name=n.name.clone() current=n.availability.clone() busy action=availability draining warning=p.drain_warning.clone() />
            </div>
            })}
        </Card>
    }
}

/// The page of the node's tasks the address asks for.
#[component]
fn NodeTasks(p: NodePage, args: Memo<crate::api::list::ListArgs>) -> impl IntoView {
    view! {
            {p.tasks_error.clone().map(|e| view! { <ErrorBanner message=e /> })}
            {if p.tasks.total == 0 && args.with_untracked(|a| a.q.is_empty()) {
                view! { <p class="text-sm text-slate-500" data-testid="no-tasks">"No tasks."</p> }.into_any()
            } else {
                let tasks = p.tasks;
                view! {
                    <div tabindex="0" role="region" aria-label="Tasks" class="overflow-x-auto">
                    <table class="min-w-full text-sm" data-testid="node-tasks">
                        <thead>
                            <tr>
                                <SortHeader label="Service" column="service" args />
                                <SortHeader label="Slot" column="slot" args />
                                <SortHeader label="State" column="state" args />
                                <SortHeader label="Desired" column="desired" args />
                                <th class="px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">"Message"</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                            {tasks.rows.is_empty().then(|| view! { <tr><td colspan="5" class="px-3 py-3 text-slate-500" data-testid="no-match">"No task matches the search."</td></tr> })}
                            {tasks.rows.into_iter().map(|t| {
                                let failed = !t.error.is_empty();
                                view! {
                                <tr data-testid="node-task">
                                    <td class="px-3 py-2 font-medium">{t.service}</td>
                                    <td class="px-3 py-2 tabular-nums">{t.slot.map(|s| s.to_string()).unwrap_or_default()}</td>
                                    <td class="px-3 py-2"><StatusBadge status=t.state /></td>
                                    <td class="px-3 py-2 text-slate-500">{t.desired_state}</td>
                                    <td class=if failed { "px-3 py-2 text-red-700 dark:text-red-300" } else { "px-3 py-2 text-slate-500" }>{if failed { t.error } else { t.message }}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    <div class="mt-3"><Pager total=tasks.total page=tasks.page per_page=tasks.per_page args noun="task" /></div>
                }.into_any()
            }}
    }
}

/// The node's zone and labels: a form for those who manage the cluster, a list for the others.
#[component]
fn LabelsCard(p: NodePage, labels: ServerAction<SetNodeLabels>) -> impl IntoView {
    let n = p.node;
    let (cluster, node) = (p.cluster_id, n.id);
    let label_text = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n");
    view! {
        <Card title="Zone and labels">
            {if !p.access.manage {
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
    }
}
