//! The cluster list, and the one-click form that creates a local cluster.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::api::cluster::{get_quotas, list_clusters, ClusterRow, CreateCluster, CreateHostsCluster, ProbeHosts};
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::ui::{go_to, ticker, ErrorBanner, PageHeader, StatusBadge, BUTTON, INPUT, PRIMARY};
use crate::format;

#[component]
pub fn Clusters() -> impl IntoView {
    let tick = ticker(Duration::from_secs(3));
    let args = use_list_args();
    let clusters =
        crate::codec::resource(move || (tick.get(), args.get()), |(_, a)| list_clusters(a.q, a.sort, a.desc, a.page));
    // Only admins create clusters; others are told how they get access instead.
    let user = crate::components::layout::use_user();
    let rows = move || {
        Suspend::new(async move {
            let is_admin = matches!(user.await, Ok(Some(u)) if u.admin);
            match clusters.await {
                Ok(p) if p.total == 0 && args.with_untracked(|a| a.q.is_empty()) => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 p-10 text-center dark:border-slate-700" data-testid="no-clusters">
                        <p class="font-medium">"No clusters yet"</p>
                        {if is_admin {
                            view! {
                                <p class="mt-1 text-sm text-slate-500">"A cluster is a Docker swarm. Create one on this machine in one click."</p>
                                <A href="/clusters/new" attr:class=format!("{PRIMARY} mt-4")>"Create a cluster"</A>
                            }.into_any()
                        } else {
                            view! { <p class="mt-1 text-sm text-slate-500">"You have no access to a cluster yet; an admin can grant it."</p> }.into_any()
                        }}
                    </div>
                }
                .into_any(),
                Ok(p) => view! {
                    <ClusterTable list=p.rows args />
                    <Pager total=p.total page=p.page per_page=p.per_page args noun="cluster" />
                }.into_any(),
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
        <Title text="Clusters · Berth" />
        <div class="space-y-6">
            <PageHeader title="Clusters" subtitle="Docker swarms that Berth creates and operates.">
                <Transition fallback=|| ()>{move || Suspend::new(async move {
                    matches!(user.await, Ok(Some(u)) if u.admin)
                        .then(|| view! { <A href="/clusters/new" attr:class=PRIMARY attr:data-testid="new-cluster">"Create cluster"</A> })
                })}</Transition>
            </PageHeader>
            <ListSearch args label="Search clusters" placeholder="Name, status, provider, zone" />
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{rows}</Transition>
        </div>
    }
}

#[component]
fn ClusterTable(list: Vec<ClusterRow>, args: Memo<crate::api::list::ListArgs>) -> impl IntoView {
    view! {
        <div tabindex="0" role="region" aria-label="Clusters" class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800">
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <SortHeader label="Name" column="name" args />
                        <SortHeader label="Status" column="status" args />
                        <SortHeader label="Nodes ready" column="nodes" args />
                        <th class="px-4 py-3">"Managers"</th>
                        <th class="px-4 py-3">"Zones"</th>
                        <th class="px-4 py-3">"CPUs"</th>
                        <th class="px-4 py-3">"Memory"</th>
                        <SortHeader label="Provider" column="provider" args />
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.is_empty().then(|| view! { <tr><td colspan="8" class="px-4 py-3 text-slate-500" data-testid="no-match">"No cluster matches the search."</td></tr> })}
                    {list
                        .into_iter()
                        .map(|c| {
                            let href = format!("/clusters/{}", c.id);
                            let testid = format!("cluster-{}", c.name);
                            let name = c.name.clone();
                            view! {
                                <tr data-testid=testid>
                                    <td class="px-4 py-3 font-medium"><A href=href attr:class="text-sky-700 hover:underline dark:text-sky-300">{name}</A></td>
                                    <td class="px-4 py-3"><StatusBadge status=c.status.clone() /></td>
                                    <td class="px-4 py-3 tabular-nums">
                                        {format!("{} / {}", c.ready, c.nodes)}
                                        {(c.down > 0).then(|| view! { <span class="ml-2 text-xs font-semibold text-red-600">{format!("{} down", c.down)}</span> })}
                                    </td>
                                    <td class="px-4 py-3 tabular-nums">{c.managers}</td>
                                    <td class="px-4 py-3">{c.zones.join(", ")}</td>
                                    <td class="px-4 py-3 tabular-nums">{format::cpus(c.cpus)}</td>
                                    <td class="px-4 py-3 tabular-nums">{format::bytes(c.memory_bytes)}</td>
                                    <td class="px-4 py-3 text-slate-500">{c.provider.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn NewCluster() -> impl IntoView {
    let create = ServerAction::<CreateCluster>::new();
    let create_hosts = ServerAction::<CreateHostsCluster>::new();
    let probe = ServerAction::<ProbeHosts>::new();
    let quotas = crate::codec::resource(|| (), |_| get_quotas());
    let hosts_mode = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(job) = [create.value().get(), create_hosts.value().get()].into_iter().flatten().find_map(Result::ok)
        {
            navigate(&format!("/jobs/{job}"), Default::default());
        }
    });
    let error = move || {
        let pick = |v: Option<Result<i64, crate::error::AppError>>| v.and_then(Result::err);
        if hosts_mode.get() {
            pick(create_hosts.value().get())
        } else {
            pick(create.value().get())
        }
    };
    let field_error = move |field: &'static str| move || error().and_then(|e| e.for_field(field));
    let quota_note = move || {
        Suspend::new(async move {
            quotas.await.ok().map(|q| {
                format!(
                    "Quotas: {} clusters per installation, {} nodes per cluster.",
                    q.max_clusters, q.max_nodes_per_cluster
                )
            })
        })
    };
    let busy = move || create.pending().get() || create_hosts.pending().get();
    let tab = move |hosts: bool, label: &'static str, testid: &'static str| {
        view! {
            <button
                type="button"
                data-testid=testid
                aria-pressed=move || (hosts_mode.get() == hosts).to_string()
                class="rounded-md px-3 py-1.5 text-sm font-medium text-slate-600 aria-pressed:bg-sky-700 aria-pressed:text-white dark:text-slate-300"
                on:click=move |_| hosts_mode.set(hosts)
            >
                {label}
            </button>
        }
    };
    let common = move || {
        view! {
            <label class="block space-y-1">
                <span class="text-sm font-medium">"Name"</span>
                <input name="name" required maxlength="40" pattern=r"\s*[A-Za-z][A-Za-z0-9\-]*\s*" title="a-z, 0-9 and '-', starting with a letter"
                    class=INPUT placeholder="prod" autocomplete="off" data-testid="cluster-name" />
                <span class="block text-xs text-slate-500">"a-z, 0-9 and '-'"</span>
                <span class="block text-xs text-red-600" data-testid="error-name">{field_error("name")}</span>
            </label>
        }
    };
    let managers_and_zones = move || {
        view! {
            <label class="block space-y-1">
                <span class="text-sm font-medium">"Managers"</span>
                <select name="managers" class=INPUT data-testid="cluster-managers">
                    <option value="1" selected>"1"</option>
                    <option value="3">"3 (survives the loss of one)"</option>
                </select>
                <span class="block text-xs text-red-600" data-testid="error-managers">{field_error("managers")}</span>
            </label>
            <label class="block space-y-1">
                <span class="text-sm font-medium">"Zones"</span>
                <input name="zones" class=INPUT placeholder="zone-a, zone-b" data-testid="cluster-zones" />
                <span class="block text-xs text-slate-500">"Nodes are spread over these in turn; the swarm label berth.zone carries each node's zone."</span>
                <span class="block text-xs text-red-600" data-testid="error-zones">{field_error("zones")}</span>
            </label>
        }
    };
    let footer = move || {
        view! {
            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="create-error" /> })}
            <div class="flex items-center justify-between gap-3">
                <p class="text-xs text-slate-500"><Suspense fallback=|| ()>{quota_note}</Suspense></p>
                <button type="submit" class=PRIMARY disabled=busy data-testid="create-cluster">
                    {move || if busy() { "Starting…" } else { "Create cluster" }}
                </button>
            </div>
        }
    };
    view! {
        <Title text="Create cluster · Berth" />
        <div class="max-w-2xl space-y-6">
            <PageHeader title="Create a cluster" subtitle="A Docker swarm: on this machine in one click, or on hosts you already run." />
            <div class="inline-flex gap-1 rounded-lg border border-slate-200 bg-white p-1 dark:border-slate-800 dark:bg-slate-900">
                {tab(false, "On this machine", "mode-local")}
                {tab(true, "Existing hosts", "mode-hosts")}
            </div>
            {move || if hosts_mode.get() {
                view! {
                    <ActionForm action=create_hosts>
                        <div class="space-y-5 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                            {common()}
                            <HostsField probe />
                            <span class="block text-xs text-red-600" data-testid="error-hosts">{field_error("hosts")}</span>
                            <div class="grid gap-5 sm:grid-cols-2">{managers_and_zones()}</div>
                            {footer()}
                        </div>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=create>
                        <div class="space-y-5 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                            {common()}
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Nodes"</span>
                                <input name="nodes" type="number" min="1" max="20" value="3" required class=INPUT data-testid="cluster-nodes" />
                                <span class="block text-xs text-red-600" data-testid="error-nodes">{field_error("nodes")}</span>
                            </label>
                            <div class="grid gap-5 sm:grid-cols-2">{managers_and_zones()}</div>
                            {footer()}
                        </div>
                    </ActionForm>
                }.into_any()
            }}
        </div>
    }
}

/// The hosts of a new cluster, with a connection test.
#[component]
fn HostsField(probe: ServerAction<ProbeHosts>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    view! {
        <label class="block space-y-1">
            <span class="text-sm font-medium">"Hosts"</span>
            <textarea
                name="hosts" rows="4" required class=format!("{INPUT} font-mono") data-testid="cluster-hosts"
                placeholder="tcp://10.0.0.5:2376\ntcp://10.0.0.6:2376"
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <span class="block text-xs text-slate-500">
                "One per line: tcp://HOST:2376 (mutual TLS with Berth's certificates — "
                <A href="/hosts/prepare" attr:class="text-sky-700 underline dark:text-sky-300">"prepare a host"</A>
                "), add insecure for plain tcp, advertise=IP when HOST is a name."
            </span>
        </label>
        <div class="flex items-center gap-2">
            <button
                type="button" class=BUTTON data-testid="probe-hosts"
                disabled=move || probe.pending().get()
                on:click=move |_| { probe.dispatch(ProbeHosts { hosts: text.get_untracked() }); }
            >
                {move || if probe.pending().get() { "Testing…" } else { "Test connections" }}
            </button>
        </div>
        {move || probe.value().get().map(|r| match r {
            Ok(rows) => view! {
                <ul class="space-y-1 text-xs" data-testid="probe-results">
                    {rows.into_iter().map(|row| view! {
                        <li class=if row.ok { "text-emerald-700 dark:text-emerald-300" } else { "text-red-700 dark:text-red-300" } data-ok=row.ok.to_string()>
                            <span class="font-mono">{row.line}</span>": "{row.message}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
            Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
        })}
    }
}
