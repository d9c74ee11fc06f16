//! One cluster: status, nodes and what can be done to them, recent operations, rename and delete.

use std::collections::BTreeSet;
use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::api::cluster::{
    drain_warning, get_cluster, list_nodes, AddHost, AddNodes, ClusterDetail, DeleteCluster, DrainNodes, NodeRow,
    RemoveNode, RenameCluster, SetNodeAvailability, SetNodeRole,
};
use crate::components::observe::{EventsTimeline, MetricsPanel};
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::ui::{go_to, ticker, Card, ErrorBanner, Fact, PageHeader, StatusBadge, BUTTON, DANGER, PRIMARY};

/// Inputs that sit in a line of text rather than fill a form.
const INLINE_INPUT: &str = "w-64 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950";
const NUMBER: &str = "w-20 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950";
use crate::error::AppError;
use crate::format;
use crate::pages::job::job_title;

/// The actions of the page, shared by every node row.
#[derive(Clone, Copy)]
struct Actions {
    availability: ServerAction<SetNodeAvailability>,
    role: ServerAction<SetNodeRole>,
    remove: ServerAction<RemoveNode>,
    add: ServerAction<AddNodes>,
    add_host: ServerAction<AddHost>,
    rename: ServerAction<RenameCluster>,
    delete: ServerAction<DeleteCluster>,
    drain: ServerAction<DrainNodes>,
}

impl Actions {
    fn new() -> Self {
        Actions {
            availability: ServerAction::new(),
            role: ServerAction::new(),
            remove: ServerAction::new(),
            add: ServerAction::new(),
            add_host: ServerAction::new(),
            rename: ServerAction::new(),
            delete: ServerAction::new(),
            drain: ServerAction::new(),
        }
    }

    /// Bumps whenever an action finishes, so the page reloads its data.
    fn version(&self) -> usize {
        self.availability.version().get()
            + self.role.version().get()
            + self.rename.version().get()
            + self.drain.version().get()
    }

    /// The latest error of any action, for one banner.
    fn error(&self) -> Option<AppError> {
        let err = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
        let err_job = |v: Option<Result<i64, AppError>>| v.and_then(Result::err);
        err(self.availability.value().get())
            .or_else(|| err(self.role.value().get()))
            .or_else(|| err(self.rename.value().get()))
            .or_else(|| err_job(self.remove.value().get()))
            .or_else(|| err_job(self.add.value().get()))
            .or_else(|| err_job(self.add_host.value().get()))
            .or_else(|| err_job(self.delete.value().get()))
            .or_else(|| self.drain.value().get().and_then(Result::err))
    }
}

/// What a person is editing or confirming on the page. It lives outside the refreshing parts, so a
/// refresh never resets a form being typed in or a confirmation being read.
#[derive(Clone, Copy)]
struct Ui {
    renaming: RwSignal<bool>,
    rename_text: RwSignal<String>,
    /// Whether the delete confirmation is shown, and for a local cluster (whose nodes go with it).
    deleting: RwSignal<Option<bool>>,
    /// The node whose removal is armed.
    removing: RwSignal<Option<i64>>,
    /// The node whose drain waits for confirmation.
    draining: RwSignal<Option<i64>>,
    /// The nodes ticked for a bulk drain, and whether that drain waits for confirmation.
    selected: RwSignal<BTreeSet<i64>>,
    bulk_draining: RwSignal<bool>,
}

impl Ui {
    fn new() -> Self {
        Ui {
            renaming: RwSignal::new(false),
            rename_text: RwSignal::new(String::new()),
            deleting: RwSignal::new(None),
            removing: RwSignal::new(None),
            draining: RwSignal::new(None),
            selected: RwSignal::new(BTreeSet::new()),
            bulk_draining: RwSignal::new(false),
        }
    }
}

#[component]
pub fn ClusterPage() -> impl IntoView {
    let page = crate::components::ui::page_id("/clusters/", "id");
    let id = move || page.get();
    // Whether the cluster can be seen at all, once per cluster: a refusal is said once and nothing
    // else of the page is shown.
    let gate = crate::codec::resource(id, get_cluster);
    let body = move || {
        Suspend::new(async move {
            match gate.await {
                Ok(_) => view! { <ClusterScreen id=id() /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! {
                        <Title text="Cluster · Berth" />
                        <ErrorBanner message=e.display() testid="cluster-error" />
                    }
                    .into_any()
                }
            }
        })
    };
    view! {
        <div class="space-y-6">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
        </div>
    }
}

/// A cluster the caller may see: its refreshing header and body, with the forms between them.
#[component]
fn ClusterScreen(id: i64) -> impl IntoView {
    let actions = Actions::new();
    crate::toast_on_success!(actions.rename, "Cluster renamed");
    crate::toast_on_success!(actions.availability, "Node availability changed");
    crate::toast_on_success!(actions.role, "Node role changed");
    crate::toast_on_success!(actions.drain, "Nodes drained");
    let ui = Ui::new();
    let tick = ticker(Duration::from_secs(3));
    let detail = crate::codec::resource(move || (tick.get(), actions.version()), move |_| get_cluster(id));

    // Jobs started here continue on their own page.
    let navigate = use_navigate();
    Effect::new(move |_| {
        let started = [
            actions.remove.value().get(),
            actions.add.value().get(),
            actions.add_host.value().get(),
            actions.delete.value().get(),
        ];
        if let Some(job) = started.into_iter().flatten().find_map(Result::ok) {
            navigate(&format!("/jobs/{job}"), Default::default());
        }
    });
    // A change that went through closes what asked for it.
    Effect::new(move |_| {
        if let Some(Ok(())) = actions.rename.value().get() {
            ui.renaming.set(false);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = actions.availability.value().get() {
            ui.draining.set(None);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = actions.drain.value().get() {
            ui.bulk_draining.set(false);
            ui.selected.set(BTreeSet::new());
        }
    });

    let refreshed = move |part: fn(ClusterDetail, Actions, Ui) -> AnyView| {
        move || {
            Suspend::new(async move {
                match detail.await {
                    Ok(d) => part(d, actions, ui),
                    Err(e) => {
                        if e.code == "unauthenticated" {
                            go_to("/signin");
                        }
                        view! { <ErrorBanner message=e.display() testid="cluster-error" /> }.into_any()
                    }
                }
            })
        }
    };
    view! {
        <Transition fallback=|| ()>{refreshed(|d, _, ui| view! { <ClusterHeader d ui /> }.into_any())}</Transition>
        {move || ui.renaming.get().then(|| view! {
            <ActionForm action=actions.rename>
                <div class="flex flex-wrap items-center gap-2">
                    <input type="hidden" name="id" value=id />
                    <label for="rename-input" class="text-sm font-medium">"New name"</label>
                    <input
                        id="rename-input"
                        name="name"
                        class=INLINE_INPUT
                        value=ui.rename_text.get_untracked()
                        on:input:target=move |ev| ui.rename_text.set(ev.target().value())
                        autofocus
                        data-testid="rename-input"
                    />
                    <button type="submit" class=PRIMARY data-testid="rename-save">"Save"</button>
                    <button type="button" class=BUTTON on:click=move |_| ui.renaming.set(false)>"Cancel"</button>
                </div>
            </ActionForm>
        })}
        {move || ui.deleting.get().map(|local| view! { <DeleteConfirm id local actions ui /> })}
        {move || actions.error().map(|e| view! { <ErrorBanner message=e.display() testid="action-error" /> })}
        <Transition fallback=|| ()>{refreshed(|d, _, _| view! { <ClusterSummary d /> }.into_any())}</Transition>
        <Card title="Nodes">
            <NodeList cluster=id tick actions ui detail />
            <Transition fallback=|| ()>{refreshed(|d, actions, _| view! { <AddNodesForm d actions /> }.into_any())}</Transition>
        </Card>
        <Transition fallback=|| ()>{refreshed(|d, _, _| view! { <ClusterFacts d /> }.into_any())}</Transition>
        <ClusterApps id=Signal::derive(move || id) />
        <WorkloadPolicyCard id=Signal::derive(move || id) />
        <super::rebalance::RebalanceCard cluster=id />
        // Outside the refreshing part: the charts keep their range and the timeline its place.
        <Card title="Usage">
            <MetricsPanel cluster=id scope="cluster" key=Signal::derive(String::new) />
        </Card>
        <Card title="Events">
            <EventsTimeline cluster=id app="" />
        </Card>
    }
}

/// Deleting a cluster deletes its apps: the confirmation names them.
#[component]
fn DeleteConfirm(id: i64, local: bool, actions: Actions, ui: Ui) -> impl IntoView {
    use crate::api::app::get_apps;
    let apps = crate::codec::resource(move || id, |id| get_apps(Some(id)));
    view! {
        <div role="alertdialog" aria-labelledby="delete-question" class="space-y-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950" data-testid="delete-dialog">
            <p id="delete-question" class="font-medium">
                {if local {
                    "Delete this cluster? Its node containers, their data and its network are removed."
                } else {
                    "Delete this cluster? Its hosts leave the swarm and keep running, without the cluster's apps."
                }}
            </p>
            <Transition fallback=|| view! { <p class="text-slate-500">"Looking for its apps…"</p> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(list) if list.is_empty() => view! { <p data-testid="delete-apps">"It has no apps."</p> }.into_any(),
                        Ok(list) => {
                            let names: Vec<String> = list.iter().map(|a| format!("{} ({})", a.name, a.status)).collect();
                            view! {
                                <p data-testid="delete-apps">
                                    {format!("{} deleted with it: ", if list.len() == 1 { "This app is".to_string() } else { format!("These {} apps are", list.len()) })}
                                    <span class="font-semibold">{format::and_list(&names)}</span>"."
                                </p>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
                    }
                })}
            </Transition>
            <div class="flex flex-wrap items-center gap-2">
                <ActionForm action=actions.delete>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class=DANGER disabled=move || apps.get().is_none() || actions.delete.pending().get() data-testid="delete-confirm">"Delete cluster"</button>
                </ActionForm>
                <button type="button" class=BUTTON on:click=move |_| ui.deleting.set(None) data-testid="delete-cancel">"Cancel"</button>
            </div>
        </div>
    }
}

/// The apps of a cluster, and stacks on it that no app owns (made with `docker stack deploy`),
/// which operators can adopt.
#[component]
fn ClusterApps(id: Signal<i64>) -> impl IntoView {
    use crate::api::app::{get_apps, get_stacks, AdoptStack};
    let adopt = ServerAction::<AdoptStack>::new();
    let tick = ticker(Duration::from_secs(5));
    let apps =
        crate::codec::resource(move || (id.get(), tick.get(), adopt.version().get()), |(id, _, _)| get_apps(Some(id)));
    let stacks = crate::codec::resource(move || (id.get(), adopt.version().get()), |(id, _)| get_stacks(id));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(app)) = adopt.value().get() {
            navigate(&format!("/apps/{app}"), Default::default());
        }
    });
    view! {
        <Card title="Apps">
            <div class="space-y-3 text-sm">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match apps.await {
                            Ok(list) => view! {
                                <ul class="space-y-1" data-testid="cluster-apps">
                                    {list.into_iter().map(|a| view! {
                                        <li class="flex items-center gap-2">
                                            <A href=format!("/apps/{}", a.id) attr:class="text-sky-700 hover:underline dark:text-sky-300">{a.name.clone()}</A>
                                            <StatusBadge status=a.status.clone() />
                                            <span class="text-xs text-slate-500">{format!("v{}", a.version)}</span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
                        }
                    })}
                </Transition>
                <A href=move || format!("/apps/new?cluster={}", id.get()) attr:class=BUTTON attr:data-testid="deploy-here">"Deploy an app here"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match stacks.await {
                            Ok(list) if list.is_empty() => ().into_any(),
                            Ok(list) => view! {
                                <div class="space-y-1" data-testid="stacks">
                                    <p class="font-medium">"Stacks not managed by Berth"</p>
                                    {list.into_iter().map(|s| {
                                        let name = s.name.clone();
                                        view! {
                                            <div class="flex items-center gap-2" data-testid="stack" data-name=s.name.clone()>
                                                <span class="font-mono">{s.name.clone()}</span>
                                                <span class="text-xs text-slate-500">{s.services.join(", ")}</span>
                                                <button type="button" class=BUTTON data-testid="adopt" on:click=move |_| {
                                                    adopt.dispatch(AdoptStack { cluster: id.get_untracked(), stack: name.clone() });
                                                }>"Adopt"</button>
                                            </div>
                                        }
                                    }).collect_view()}
                                </div>
                            }.into_any(),
                            Err(e) => view! { <p class="text-xs text-slate-500">{format!("Stacks: {}", e.display())}</p> }.into_any(),
                        }
                    })}
                </Transition>
                {move || adopt.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() /> })}
            </div>
        </Card>
    }
}

/// What non-admins' workloads may use on this cluster beyond their app's own resources: host
/// directories to bind and existing networks to join. Everyone who sees the cluster reads it (the
/// deploy form's refusals point here); cluster admins edit it. Outside the refreshing part, so an
/// edit in progress is never reset.
#[component]
fn WorkloadPolicyCard(id: Signal<i64>) -> impl IntoView {
    use crate::api::cluster::{get_workload_policy, SetWorkloadPolicy};
    let save = ServerAction::<SetWorkloadPolicy>::new();
    crate::toast_on_success!(save, "Workload policy saved");
    let editing = RwSignal::new(false);
    // Reloaded only after a save that succeeded: after a refusal the form keeps what was typed.
    let saved = RwSignal::new(0u32);
    let policy = crate::codec::resource(move || (id.get(), saved.get()), |(id, _)| get_workload_policy(id));
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(false);
            saved.update(|n| *n += 1);
        }
    });
    let error = move || save.value().get().and_then(Result::err);
    view! {
        <Card title="Workload policy">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match policy.await {
                        Ok(p) => {
                            let paths_text = p
                                .paths
                                .iter()
                                .map(|a| if a.read_write { format!("{} rw", a.path) } else { a.path.clone() })
                                .collect::<Vec<_>>()
                                .join("\n");
                            let networks_text = p.networks.join("\n");
                            let can_edit = p.can_edit;
                            view! {
                                <div class="space-y-3 text-sm" data-testid="workload-policy">
                                    <p class="text-slate-600 dark:text-slate-400">
                                        "Apps of people who are not admins may use their own networks and volumes, and only what is listed here besides: no privileged containers, host namespaces, devices, extra capabilities or host networks."
                                        {(!p.applies_to_me).then(|| view! { <span class="ml-1 font-medium">"As an admin you may deploy anything."</span> })}
                                    </p>
                                    <div class="grid gap-4 sm:grid-cols-2">
                                        <div>
                                            <div class="text-xs uppercase tracking-wide text-slate-500">"Host directories"</div>
                                            {if p.paths.is_empty() {
                                                view! { <p class="mt-1 text-slate-500" data-testid="policy-paths-none">"None: no host paths may be bound."</p> }.into_any()
                                            } else {
                                                view! {
                                                    <ul class="mt-1 space-y-1" data-testid="policy-paths">
                                                        {p.paths.iter().map(|a| view! {
                                                            <li class="flex items-center gap-2">
                                                                <code class="font-mono">{a.path.clone()}</code>
                                                                <span class="text-xs text-slate-500">{if a.read_write { "read-write" } else { "read-only" }}</span>
                                                            </li>
                                                        }).collect_view()}
                                                    </ul>
                                                }.into_any()
                                            }}
                                        </div>
                                        <div>
                                            <div class="text-xs uppercase tracking-wide text-slate-500">"Existing networks"</div>
                                            {if p.networks.is_empty() {
                                                view! { <p class="mt-1 text-slate-500" data-testid="policy-networks-none">"None: apps use only their own networks."</p> }.into_any()
                                            } else {
                                                view! {
                                                    <ul class="mt-1 space-y-1" data-testid="policy-networks">
                                                        {p.networks.iter().map(|n| view! { <li><code class="font-mono">{n.clone()}</code></li> }).collect_view()}
                                                    </ul>
                                                }.into_any()
                                            }}
                                        </div>
                                    </div>
                                    {can_edit.then(|| view! {
                                        <div>
                                            {move || if editing.get() {
                                                let (paths_text, networks_text) = (paths_text.clone(), networks_text.clone());
                                                view! {
                                                    <ActionForm action=save>
                                                        <input type="hidden" name="cluster" value=id.get_untracked() />
                                                        <div class="grid gap-4 sm:grid-cols-2">
                                                            <label class="block text-xs font-medium">"Host directories, one per line (add rw for read-write)"
                                                                <textarea name="paths" rows="4" class="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-sm dark:border-slate-700 dark:bg-slate-950" placeholder="/srv/data rw" data-testid="policy-paths-input">{paths_text}</textarea>
                                                                <span class="block text-xs text-red-600" data-testid="error-paths">{move || error().and_then(|e| e.for_field("paths"))}</span>
                                                            </label>
                                                            <label class="block text-xs font-medium">"Existing overlay networks, one per line"
                                                                <textarea name="networks" rows="4" class="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-sm dark:border-slate-700 dark:bg-slate-950" placeholder="shared-net" data-testid="policy-networks-input">{networks_text}</textarea>
                                                                <span class="block text-xs text-red-600" data-testid="error-networks">{move || error().and_then(|e| e.for_field("networks"))}</span>
                                                            </label>
                                                        </div>
                                                        <div class="mt-3 flex gap-2">
                                                            <button type="submit" class=PRIMARY data-testid="policy-save">"Save"</button>
                                                            <button type="button" class=BUTTON on:click=move |_| editing.set(false)>"Cancel"</button>
                                                        </div>
                                                    </ActionForm>
                                                }.into_any()
                                            } else {
                                                view! { <button type="button" class=BUTTON on:click=move |_| editing.set(true) data-testid="policy-edit">"Edit"</button> }.into_any()
                                            }}
                                        </div>
                                    })}
                                    {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="policy-error" /> })}
                                </div>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
fn ClusterHeader(d: ClusterDetail, ui: Ui) -> impl IntoView {
    let c = d.cluster;
    let id = c.id;
    let local = c.provider == "local";
    let access = d.access;
    let name = c.name.clone();
    view! {
        <Title text=format!("{} · Clusters · Berth", c.name) />
        <nav aria-label="Breadcrumb" class="text-sm text-slate-500">
            <A href="/clusters" attr:class="hover:underline">"Clusters"</A>
            " / "
            <span aria-current="page">{c.name.clone()}</span>
        </nav>
        <PageHeader title=c.name.clone() subtitle=format!("{} cluster · {}", c.provider, format::count(c.nodes, "node"))>
            <StatusBadge status=c.status.clone() testid="cluster-status" />
            <A href=format!("/clusters/{id}/dashboard") attr:class=BUTTON attr:data-testid="open-dashboard">"Dashboard"</A>
            <A href=format!("/clusters/{id}/logs") attr:class=BUTTON attr:data-testid="open-logs">"Logs"</A>
            <A href=format!("/clusters/{id}/alerts") attr:class=BUTTON attr:data-testid="open-alerts">"Alerts"</A>
            <A href=format!("/clusters/{id}/routing") attr:class=BUTTON attr:data-testid="open-routing">"Routing"</A>
            {access.manage.then(|| view! {
                <button
                    type="button"
                    class=BUTTON
                    aria-expanded=move || ui.renaming.get().to_string()
                    on:click=move |_| {
                        ui.rename_text.set(name.clone());
                        ui.renaming.update(|r| *r = !*r);
                    }
                    data-testid="rename"
                >"Rename"</button>
            })}
            {access.delete.then(|| view! {
                <button type="button" class=BUTTON on:click=move |_| ui.deleting.set(Some(local)) data-testid="delete">"Delete"</button>
            })}
        </PageHeader>
    }
}

#[component]
fn ClusterSummary(d: ClusterDetail) -> impl IntoView {
    let c = d.cluster;
    view! {
        {(!c.message.is_empty()).then(|| view! { <p class="text-sm text-amber-700 dark:text-amber-300" data-testid="cluster-message">{c.message.clone()}</p> })}
        <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Summary label="Nodes ready" value=format!("{} / {}", c.ready, c.nodes) testid="nodes-ready" />
            <Summary label="Managers" value=c.managers.to_string() testid="managers" />
            <Summary label="CPUs · memory" value=format!("{} · {}", format::cpus(c.cpus), format::bytes(c.memory_bytes)) testid="resources" />
            <Summary label="Zones" value=c.zones.join(", ") testid="zones" />
        </div>
    }
}

/// Adding nodes: existing hosts to a hosts cluster, new worker containers to a local one.
#[component]
fn AddNodesForm(d: ClusterDetail, actions: Actions) -> impl IntoView {
    let id = d.cluster.id;
    let local = d.cluster.provider == "local";
    let has_pending = d.nodes.iter().any(|n| n.state == "pending");
    let manage = d.access.manage;
    view! {
            {(!local && manage).then(|| view! {
                <ActionForm action=actions.add_host>
                    <div class="mt-4 flex flex-wrap items-center gap-2 text-sm">
                        <input type="hidden" name="cluster" value=id />
                        <label for="add-host-endpoint">"Add the host"</label>
                        <input id="add-host-endpoint" name="host" class=INLINE_INPUT placeholder="tcp://10.0.0.7:2376" data-testid="add-host-endpoint" />
                        <button type="submit" class=BUTTON disabled=move || actions.add_host.pending().get() || has_pending data-testid="add-host">"Add host"</button>
                        <A href="/hosts/prepare" attr:class="text-xs text-sky-700 underline dark:text-sky-300">"Prepare a host first"</A>
                    </div>
                </ActionForm>
            })}
            {(local && manage).then(|| view! {
                <ActionForm action=actions.add>
                    <div class="mt-4 flex flex-wrap items-center gap-2 text-sm">
                        <input type="hidden" name="cluster" value=id />
                        <label for="add-count">"Add"</label>
                        <input id="add-count" name="count" type="number" min="1" max="20" value="1" class=NUMBER data-testid="add-count" />
                        <span>"worker nodes"</span>
                        <button type="submit" class=BUTTON disabled=move || actions.add.pending().get() || has_pending data-testid="add-nodes">"Add nodes"</button>
                    </div>
                </ActionForm>
            })}
    }
}

#[component]
fn ClusterFacts(d: ClusterDetail) -> impl IntoView {
    let c = d.cluster;
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <Card title="Engines">
                <dl>
                    <Fact label="Engine versions" value=c.engine_versions.join(", ") />
                    <Fact label="Swarm" value=if c.swarm_id.is_empty() { "not formed".to_string() } else { format::short_id(&c.swarm_id).to_string() } />
                    <Fact label="Provider" value=c.provider.clone() />
                    <Fact label="Created" value=format::time_of_day_utc(c.created_at) />
                </dl>
            </Card>
            <Card title="Recent operations">
                <ul class="space-y-2 text-sm" data-testid="cluster-jobs">
                    {d.jobs.into_iter().map(|j| view! {
                        <li class="flex items-center justify-between gap-2">
                            <A href=format!("/jobs/{}", j.id) attr:class="truncate text-sky-700 hover:underline dark:text-sky-300">{job_title(&j.kind, &j.target)}</A>
                            <StatusBadge status=j.status.clone() />
                        </li>
                    }).collect_view()}
                </ul>
            </Card>
        </div>
    }
}

#[component]
fn Summary(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div class="text-xs uppercase tracking-wide text-slate-500">{label}</div>
            <div class="mt-1 truncate text-lg font-semibold tabular-nums" data-testid=testid>{value}</div>
        </div>
    }
}

/// The cluster's nodes, a page at a time (searched, sorted and paged on the server, the view in the
/// address), refreshed with the page; ticked nodes can be drained together.
#[component]
fn NodeList(
    cluster: i64,
    tick: ReadSignal<u64>,
    actions: Actions,
    ui: Ui,
    detail: crate::codec::Res<Result<ClusterDetail, AppError>>,
) -> impl IntoView {
    let manage = move || detail.get().and_then(Result::ok).is_some_and(|d| d.access.manage);
    let args = use_list_args();
    let nodes = crate::codec::resource(
        move || (tick.get(), actions.version(), args.get()),
        move |(_, _, a)| list_nodes(cluster, a.q, a.sort, a.desc, a.page),
    );
    let table = move || {
        Suspend::new(async move {
            // What the caller may do is awaited with the rows, so the server renders the same
            // columns the browser hydrates.
            let manage = matches!(detail.await, Ok(d) if d.access.manage);
            match nodes.await {
                Ok(p) => {
                    let pager = (p.total > 0).then(|| {
                        view! { <div class="mt-3"><Pager total=p.total page=p.page per_page=p.per_page args noun="node" /></div> }
                    });
                    view! {
                        <NodeTable nodes=p.rows cluster actions ui manage args />
                        {pager}
                    }
                    .into_any()
                }
                Err(e) => view! { <ErrorBanner message=e.display() testid="nodes-error" /> }.into_any(),
            }
        })
    };
    let count = move || ui.selected.with(BTreeSet::len);
    view! {
        <div class="mb-3 flex flex-wrap items-center justify-between gap-3">
            <ListSearch args label="Search nodes" placeholder="Name, state, role, zone, label" />
            {move || (count() > 0 && manage()).then(|| view! {
                <button type="button" class=BUTTON data-testid="drain-selected" aria-expanded=move || ui.bulk_draining.get().to_string()
                    on:click=move |_| ui.bulk_draining.set(true)>
                    {move || format!("Drain {}", format::count(count() as i64, "node"))}
                </button>
            })}
        </div>
        {move || (ui.bulk_draining.get() && count() > 0).then(|| view! { <BulkDrainConfirm cluster actions ui /> })}
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{table}</Transition>
    }
}

/// Draining the ticked nodes, confirmed first with what it will do (asked of the server, which sees
/// every node, not only the page shown).
#[component]
fn BulkDrainConfirm(cluster: i64, actions: Actions, ui: Ui) -> impl IntoView {
    let ids = move || ui.selected.with(|s| s.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let warning = crate::codec::resource(ids, move |ids| drain_warning(cluster, ids));
    let count = move || ui.selected.with(BTreeSet::len) as i64;
    view! {
        <div role="alertdialog" aria-label="Drain nodes" data-testid="bulk-drain-confirm"
            class="mb-3 space-y-2 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm dark:border-amber-900 dark:bg-amber-950">
            <p>{move || format!("Drain {}? Their tasks stop there and start on other nodes; none are placed on them until they are activated again.", format::count(count(), "node"))}</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match warning.await {
                        Ok(Some(w)) => view! { <p class="font-medium text-amber-800 dark:text-amber-200" data-testid="drain-warning">{w}</p> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
                    }
                })}
            </Transition>
            <div class="flex gap-2">
                <button type="button" class=DANGER data-testid="bulk-drain-yes" disabled=move || actions.drain.pending().get()
                    on:click=move |_| { actions.drain.dispatch(DrainNodes { cluster, nodes: ids() }); }>
                    {move || format!("Drain {}", format::count(count(), "node"))}
                </button>
                <button type="button" class=BUTTON on:click=move |_| ui.bulk_draining.set(false)>"Cancel"</button>
            </div>
        </div>
    }
}

#[component]
fn NodeTable(
    nodes: Vec<NodeRow>,
    cluster: i64,
    actions: Actions,
    ui: Ui,
    manage: bool,
    args: Memo<crate::api::list::ListArgs>,
) -> impl IntoView {
    let now = nodes.iter().map(|n| n.seen_at).max().unwrap_or(0);
    let page_ids: Vec<i64> = nodes.iter().map(|n| n.id).collect();
    let all_ids = page_ids.clone();
    let all_ticked = move || !page_ids.is_empty() && ui.selected.with(|s| page_ids.iter().all(|id| s.contains(id)));
    let empty = nodes.is_empty();
    view! {
        <div tabindex="0" role="region" aria-label="Nodes" class="overflow-x-auto">
            <table class="min-w-full whitespace-nowrap text-sm" data-testid="nodes">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        {manage.then(|| view! {
                            <th class="py-2 pr-2">
                                <input type="checkbox" aria-label="Select every node on this page" data-testid="select-all-nodes"
                                    prop:checked=all_ticked
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        ui.selected.update(|s| for id in &all_ids { if on { s.insert(*id); } else { s.remove(id); } });
                                    } />
                            </th>
                        })}
                        <SortHeader label="Node" column="name" args />
                        <SortHeader label="State" column="state" args />
                        <SortHeader label="Role" column="role" args />
                        <SortHeader label="Availability" column="availability" args />
                        <SortHeader label="Zone" column="zone" args />
                        <SortHeader label="Address" column="address" args />
                        <SortHeader label="Engine" column="engine" args />
                        <th class="px-3 py-2">"Resources"</th>
                        {manage.then(|| view! { <th class="px-3 py-2">"Actions"</th> })}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {empty.then(|| view! { <tr><td colspan="10" class="px-3 py-3 text-slate-500" data-testid="no-match">"No node matches the search."</td></tr> })}
                    {nodes.into_iter().map(|n| view! { <NodeLine n cluster actions ui now manage /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Activate, Pause and Drain, always in this order with the current one pressed, so nothing moves
/// under the cursor; a drain is confirmed first, with what it will do.
#[component]
pub(crate) fn AvailabilityButtons(
    cluster: i64,
    node: i64,
    name: String,
    current: String,
    busy: bool,
    action: ServerAction<SetNodeAvailability>,
    draining: RwSignal<Option<i64>>,
    warning: Option<String>,
) -> impl IntoView {
    let drain_pressed = current == "drain";
    let set = move |value: &'static str, label: &'static str| {
        let pressed = current == value;
        view! {
            <ActionForm action=action>
                <input type="hidden" name="cluster" value=cluster />
                <input type="hidden" name="node" value=node />
                <input type="hidden" name="availability" value=value />
                <button type="submit" class=BUTTON disabled=busy || pressed aria-pressed=pressed.to_string() data-testid=format!("{label}-{node}")>{label}</button>
            </ActionForm>
        }
    };
    let (active, pause) = (set("active", "Activate"), set("pause", "Pause"));
    view! {
        {active}
        {pause}
        <button
            type="button"
            class=BUTTON
            disabled=busy || drain_pressed
            aria-pressed=drain_pressed.to_string()
            aria-expanded=move || (draining.get() == Some(node)).to_string()
            on:click=move |_| draining.set(Some(node))
            data-testid=format!("Drain-{node}")
        >"Drain"</button>
        {move || (draining.get() == Some(node)).then(|| {
            let warning = warning.clone();
            let (label, question, yes) = (
                format!("Drain {name}"),
                format!("Drain {name}? Its tasks stop here and start on other nodes; none are placed here until it is activated again."),
                format!("Drain {name}"),
            );
            view! {
                <div role="alertdialog" aria-label=label class="basis-full space-y-2 whitespace-normal rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm dark:border-amber-900 dark:bg-amber-950" data-testid=format!("drain-confirm-{node}")>
                    <p>{question}</p>
                    {warning.map(|w| view! { <p class="font-medium text-amber-800 dark:text-amber-200" data-testid="drain-warning">{w}</p> })}
                    <div class="flex gap-2">
                        <ActionForm action=action>
                            <input type="hidden" name="cluster" value=cluster />
                            <input type="hidden" name="node" value=node />
                            <input type="hidden" name="availability" value="drain" />
                            <button type="submit" class=DANGER data-testid=format!("drain-yes-{node}")>{yes}</button>
                        </ActionForm>
                        <button type="button" class=BUTTON on:click=move |_| draining.set(None)>"Cancel"</button>
                    </div>
                </div>
            }
        })}
    }
}

#[component]
fn NodeLine(n: NodeRow, cluster: i64, actions: Actions, ui: Ui, now: i64, manage: bool) -> impl IntoView {
    let warning = n.drain_warning.clone();
    let busy = matches!(n.state.as_str(), "pending" | "removing");
    let node = n.id;
    let (role_value, role_label) = if n.role == "manager" { ("worker", "Demote") } else { ("manager", "Promote") };
    let title =
        if n.message.is_empty() { format!("last seen {}", format::ago(n.seen_at, now)) } else { n.message.clone() };
    let testid = format!("node-{}", n.name);
    let name = n.name.clone();
    let link_name = name.clone();
    view! {
        <tr data-testid=testid data-state=n.state.clone()>
            {manage.then(|| view! {
                <td class="py-2 pr-2">
                    <input type="checkbox" aria-label=format!("Select {name}") data-testid=format!("select-{name}")
                        prop:checked=move || ui.selected.with(|s| s.contains(&node))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            ui.selected.update(|s| { if on { s.insert(node); } else { s.remove(&node); } });
                        } />
                </td>
            })}
            <td class="px-3 py-2 font-medium">
                <A href=format!("/clusters/{cluster}/nodes/{node}") attr:class="text-sky-700 hover:underline dark:text-sky-300">{link_name}</A>
                {n.leader.then(|| view! { <span class="ml-1 text-xs text-slate-500">"leader"</span> })}
            </td>
            <td class="px-3 py-2" title=title><StatusBadge status=n.state.clone() /></td>
            <td class="px-3 py-2">{n.role.clone()}</td>
            <td class="px-3 py-2"><StatusBadge status=n.availability.clone() /></td>
            <td class="px-3 py-2">{n.zone.clone()}</td>
            <td class="px-3 py-2 tabular-nums text-slate-500">{n.address.clone()}</td>
            <td class="px-3 py-2 text-slate-500">{n.engine_version.clone()}</td>
            <td class="px-3 py-2 tabular-nums text-slate-500">{format!("{} CPU · {}", format::cpus(n.cpus), format::bytes(n.memory_bytes))}</td>
            {manage.then(|| view! {
            <td class="px-3 py-2">
                // Wide enough for the buttons in one row; a confirmation wraps below them.
                <div class="flex w-[27rem] flex-wrap gap-1">
                    <AvailabilityButtons cluster node name=name.clone() current=n.availability.clone() busy action=actions.availability draining=ui.draining warning />
                    <ActionForm action=actions.role>
                        <input type="hidden" name="cluster" value=cluster />
                        <input type="hidden" name="node" value=node />
                        <input type="hidden" name="role" value=role_value />
                        <button type="submit" class=BUTTON disabled=busy data-testid=format!("{role_label}-{node}")>{role_label}</button>
                    </ActionForm>
                    {move || if ui.removing.get() == Some(node) {
                        view! {
                            <ActionForm action=actions.remove>
                                <input type="hidden" name="cluster" value=cluster />
                                <input type="hidden" name="node" value=node />
                                <button type="submit" class=DANGER data-testid=format!("remove-confirm-{node}")>"Drain and remove"</button>
                            </ActionForm>
                            <button type="button" class=BUTTON on:click=move |_| ui.removing.set(None)>"Keep"</button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class=BUTTON disabled=busy on:click=move |_| ui.removing.set(Some(node)) data-testid=format!("Remove-{node}")>"Remove"</button>
                        }.into_any()
                    }}
                </div>
            </td>
            })}
        </tr>
    }
}
