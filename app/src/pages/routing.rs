//! A cluster's routing: the root domain and edge nodes (cluster admins edit them, outside the
//! refreshing part), the routers on the edge nodes with the table version each serves, the routes
//! (domain and context path → app/service) with their backends' state, the TCP front ports, and the
//! requests per route (charts, outside the part that refreshes every 3 s and holds forms).

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::routing::{
    get_routing, BackendRow, CreateLoadBalancer, DeleteCertificate, DeleteLoadBalancer, RouteRow, RoutingView,
    SetRouting, UploadCertificate,
};
use crate::components::traffic::TrafficPanel;
use crate::components::ui::{go_to, ticker, Card, ErrorBanner, PageHeader, StatusBadge, BUTTON, INPUT, PRIMARY};

#[component]
pub fn RoutingPage() -> impl IntoView {
    let params = use_params_map();
    let cluster = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let save = ServerAction::<SetRouting>::new();
    crate::toast_on_success!(save, "Routing saved");
    let upload = ServerAction::<UploadCertificate>::new();
    crate::toast_on_success!(upload, "Certificate uploaded");
    let delete = ServerAction::<DeleteCertificate>::new();
    crate::toast_on_success!(delete, "Certificate deleted");
    let lb = Balancers { create: ServerAction::new(), delete: ServerAction::new() };
    crate::toast_on_success!(lb.create, "Load balancer created");
    crate::toast_on_success!(lb.delete, "Load balancer deleted");
    let tick = ticker(Duration::from_secs(3));
    let page = crate::codec::resource(
        move || {
            let changed = save.version().get()
                + upload.version().get()
                + delete.version().get()
                + lb.create.version().get()
                + lb.delete.version().get();
            (cluster(), tick.get(), changed)
        },
        |(c, _, _)| get_routing(c),
    );
    // The settings form reads its values once in the browser, and again after a save: refreshes
    // never reset what is being typed.
    let settings = LocalResource::new(move || {
        save.version().get();
        get_routing(cluster())
    });
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(v) => view! { <Served v delete lb /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() testid="page-error" /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="Routing · Berth" />
        <div class="space-y-6">
            <PageHeader title="Routing" subtitle="berth-router on the edge nodes: domains and paths to services, TCP front ports to tasks.">
                <A href=move || format!("/clusters/{}", cluster()) attr:class=BUTTON>"Back to the cluster"</A>
            </PageHeader>
            {move || settings.get().map(|r| match r {
                Ok(v) => view! { <Settings v save upload lb /> }.into_any(),
                Err(_) => ().into_any(),
            })}
            {move || lb.delete.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() testid="balancer-delete-error" /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            <Card title="Requests">
                <TrafficPanel cluster=Signal::derive(cluster) app=String::new() />
            </Card>
        </div>
    }
}

/// The load balancers' actions.
#[derive(Clone, Copy)]
struct Balancers {
    create: ServerAction<CreateLoadBalancer>,
    delete: ServerAction<DeleteLoadBalancer>,
}

/// The root domain and edge nodes: a form for cluster admins, facts for everyone else.
#[component]
fn Settings(
    v: RoutingView,
    save: ServerAction<SetRouting>,
    upload: ServerAction<UploadCertificate>,
    lb: Balancers,
) -> impl IntoView {
    let lb_error = move || lb.create.value().get().and_then(Result::err);
    let error = move || save.value().get().and_then(Result::err);
    let upload_error = move || upload.value().get().and_then(Result::err);
    let can_edit = v.can_edit;
    let cluster = v.cluster;
    let root = v.root_domain.clone();
    let shown = if root.is_empty() { "none".to_string() } else { root.clone() };
    view! {
        <Card title="Settings">
            {if v.can_edit {
                view! {
                    <ActionForm action=save attr:class="grid gap-3 sm:grid-cols-[1fr_auto_auto] sm:items-end" attr:data-testid="routing-form">
                        <input type="hidden" name="cluster" value=v.cluster />
                        <label class="text-sm">"Root domain"
                            <input class=INPUT name="root_domain" value=root placeholder="apps.example.com" data-testid="root-domain" />
                            <span class="block text-xs text-slate-500">"A route written as one word (shop) is served as shop.<root domain>; point a wildcard DNS record at the edge nodes."</span>
                            <span class="block text-xs text-red-600" data-testid="error-root_domain">{move || error().and_then(|e| e.for_field("root_domain"))}</span>
                        </label>
                        <label class="flex items-center gap-2 text-sm">
                            <input type="checkbox" name="edge_label" checked=v.edge_label data-testid="edge-label" />
                            "Only nodes labelled berth.edge=true"
                        </label>
                        <button type="submit" class=PRIMARY data-testid="routing-save">"Save"</button>
                    </ActionForm>
                    {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="routing-error" /> })}
                }.into_any()
            } else {
                view! {
                    <dl class="grid gap-2 text-sm sm:grid-cols-2">
                        <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Root domain"</dt><dd data-testid="root-domain-fact">{shown}</dd></div>
                        <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Edge nodes"</dt><dd>{if v.edge_label { "nodes labelled berth.edge=true" } else { "every node" }}</dd></div>
                    </dl>
                }.into_any()
            }}
        </Card>
        {can_edit.then(|| view! {
            <Card title="Upload a certificate">
                <ActionForm action=upload attr:class="grid gap-3 lg:grid-cols-2" attr:data-testid="certificate-form">
                    <input type="hidden" name="cluster" value=cluster />
                    <label class="text-sm">"Certificate (PEM, with its chain)"
                        <textarea name="certificate" rows="5" class=INPUT placeholder="-----BEGIN CERTIFICATE-----" data-testid="certificate-pem"></textarea>
                        <span class="block text-xs text-red-600" data-testid="error-certificate">{move || upload_error().and_then(|e| e.for_field("certificate"))}</span>
                    </label>
                    <label class="text-sm">"Private key (PEM)"
                        <textarea name="key" rows="5" class=INPUT placeholder="-----BEGIN PRIVATE KEY-----" data-testid="certificate-key"></textarea>
                        <span class="block text-xs text-red-600" data-testid="error-key">{move || upload_error().and_then(|e| e.for_field("key"))}</span>
                    </label>
                    <p class="text-xs text-slate-500 lg:col-span-2">"The names it serves and its expiry are read from it; the key is sealed at rest and only the routers get it. Names no certificate covers get a self-signed one."</p>
                    <div><button type="submit" class=PRIMARY data-testid="certificate-upload">"Upload"</button></div>
                </ActionForm>
                {move || upload_error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="certificate-error" /> })}
            </Card>
            <Card title="Create a load balancer">
                <ActionForm action=lb.create attr:class="flex flex-wrap items-end gap-3" attr:data-testid="balancer-form">
                    <input type="hidden" name="cluster" value=cluster />
                    <label class="text-sm">"Name"
                        <input class=INPUT name="name" placeholder="front" data-testid="balancer-name" />
                        <span class="block text-xs text-red-600" data-testid="error-balancer-name">{move || lb_error().and_then(|e| e.for_field("name"))}</span>
                    </label>
                    <button type="submit" class=PRIMARY data-testid="balancer-create">"Create"</button>
                    <p class="w-full text-xs text-slate-500">"Apps bind a front port on it with berth.lb.port_<container port>: tcp://<name>:<front port>; the routers open the front port on every edge node and forward TCP to the service's tasks."</p>
                </ActionForm>
                {move || lb_error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="balancer-error" /> })}
            </Card>
        })}
    }
}

/// What the routers serve, refreshed.
#[component]
fn Served(v: RoutingView, delete: ServerAction<DeleteCertificate>, lb: Balancers) -> impl IntoView {
    let current = v.version;
    let filter = RwSignal::new(String::new());
    let routes = v.routes.clone();
    let shown = move || {
        let f = filter.get().to_ascii_lowercase();
        routes
            .iter()
            .filter(|r| f.is_empty() || r.host.contains(&f) || r.id.to_ascii_lowercase().contains(&f))
            .cloned()
            .collect::<Vec<RouteRow>>()
    };
    let no_routes = v.routes.is_empty();
    view! {
        <Card title="Routers">
            {if v.routers.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="routers-none">"No routers yet: they start on the edge nodes when the first app with a routing or load-balancer label is deployed."</p> }.into_any()
            } else {
                view! {
                    <div tabindex="0" role="region" aria-label="Routers" class="overflow-x-auto">
                        <table class="min-w-full whitespace-nowrap text-sm" data-testid="routers">
                            <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                                <tr><th class="py-2 pr-3">"Node"</th><th class="px-3 py-2">"Address"</th><th class="px-3 py-2">"Table"</th><th class="px-3 py-2">"Last answer"</th></tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {v.routers.iter().map(|r| {
                                    let state = if !r.error.is_empty() { "unreachable" } else if r.version == current { "current" } else { "behind" };
                                    view! {
                                        <tr data-testid="router-row">
                                            <td class="py-2 pr-3 font-medium">{r.node.clone()}</td>
                                            <td class="px-3 py-2 font-mono text-xs">{r.address.clone()}</td>
                                            <td class="px-3 py-2">
                                                <span class="mr-2 font-mono" data-testid="router-version">{format!("v{}", r.version)}</span>
                                                <StatusBadge status=state.to_string() />
                                                {(!r.error.is_empty()).then(|| view! { <div class="text-xs text-red-700 dark:text-red-300 whitespace-normal">{r.error.clone()}</div> })}
                                            </td>
                                            <td class="px-3 py-2 text-xs text-slate-500">{r.seen.clone()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <p class="mt-2 text-xs text-slate-500">{format!("Current table: v{current}")}</p>
                }.into_any()
            }}
        </Card>
        <Card title="Routes">
            {if no_routes {
                view! { <p class="text-sm text-slate-500" data-testid="routes-none">"No routes. Add a label such as berth.routing.port_80: shop to a service of an app; with a root domain set it is served at shop.<root domain>."</p> }.into_any()
            } else {
                view! {
                    <input class=INPUT type="search" placeholder="Filter by domain or app" aria-label="Filter routes" data-testid="routes-filter"
                        prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev)) />
                    <div tabindex="0" role="region" aria-label="Routes" class="mt-3 overflow-x-auto">
                        <table class="min-w-full text-sm" data-testid="routes">
                            <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                                <tr><th class="py-2 pr-3">"Domain and path"</th><th class="px-3 py-2">"Service"</th><th class="px-3 py-2">"Backends"</th></tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {move || shown().into_iter().map(|r| {
                                    let url = format!("http://{}{}", r.host, if r.path == "/" { String::new() } else { r.path.clone() });
                                    view! {
                                        <tr data-testid="route-row">
                                            <td class="py-2 pr-3 align-top"><a class="font-mono text-sky-700 hover:underline dark:text-sky-300" href=url.clone() target="_blank" rel="noopener">{url.clone()}</a></td>
                                            <td class="px-3 py-2 align-top font-mono text-xs">{r.id.clone()}</td>
                                            <td class="px-3 py-2 align-top">
                                                {r.sides.iter().map(|s| {
                                                    let up = s.backends.iter().filter(|b| b.state == "up").count();
                                                    let total = s.backends.len();
                                                    let many = r.sides.len() > 1;
                                                    view! {
                                                        <div class="mb-1">
                                                            {many.then(|| view! { <span class="mr-2 text-xs text-slate-500">{format!("{} · weight {}", s.name, s.weight)}</span> })}
                                                            <span class="text-xs" data-testid="route-backends">{format!("{up} of {total} up")}</span>
                                                            <Backends list=s.backends.clone() />
                                                        </div>
                                                    }
                                                }).collect_view()}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </Card>
        <Card title="Certificates">
            {if v.certificates.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="certificates-none">"None uploaded: HTTPS answers with a self-signed certificate, which browsers warn about."</p> }.into_any()
            } else {
                let (cluster, can_edit) = (v.cluster, v.can_edit);
                view! {
                    <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="certificates">
                        {v.certificates.iter().map(|c| {
                            let soon = c.days_left < 14;
                            let id = c.id;
                            view! {
                                <li class="flex flex-wrap items-center gap-3 py-2" data-testid="certificate-row">
                                    <span class="font-mono">{c.hosts.join(", ")}</span>
                                    <span class=if soon { "text-xs text-amber-700 dark:text-amber-300" } else { "text-xs text-slate-500" }>
                                        {format!("expires {} ({} days)", c.expires, c.days_left)}
                                    </span>
                                    <span class="text-xs text-slate-500">{format!("uploaded by {}", c.created_by)}</span>
                                    {can_edit.then(|| view! {
                                        <ActionForm action=delete>
                                            <input type="hidden" name="cluster" value=cluster />
                                            <input type="hidden" name="id" value=id />
                                            <button type="submit" class=BUTTON data-testid="certificate-delete">"Delete"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Card>
        <Card title="Load balancers">
            {if v.load_balancers.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="balancers-none">"None yet: cluster admins create one, then apps bind its front ports with berth.lb.port_N labels."</p> }.into_any()
            } else {
                let (cluster, can_edit, tcp) = (v.cluster, v.can_edit, v.tcp.clone());
                view! {
                    <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="balancers">
                        {v.load_balancers.iter().map(|b| {
                            let name = b.name.clone();
                            view! {
                                <li class="space-y-1 py-2" data-testid="balancer-row" data-name=b.name.clone()>
                                    <div class="flex flex-wrap items-center gap-3">
                                        <span class="font-semibold">{b.name.clone()}</span>
                                        <span class="text-xs text-slate-500">{format!("created by {}", b.created_by)}</span>
                                        <span class="flex-1"></span>
                                        {can_edit.then(|| view! {
                                            <ActionForm action=lb.delete>
                                                <input type="hidden" name="cluster" value=cluster />
                                                <input type="hidden" name="name" value=name.clone() />
                                                <button type="submit" class=BUTTON data-testid="balancer-delete">"Delete"</button>
                                            </ActionForm>
                                        })}
                                    </div>
                                    {if b.ports.is_empty() {
                                        view! { <p class="text-xs text-slate-500">"No front port bound."</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="space-y-1 pl-3" data-testid="balancer-ports">
                                                {b.ports.iter().map(|p| {
                                                    let served = tcp.iter().find(|t| t.port == p.front_port).cloned();
                                                    view! {
                                                        <li>
                                                            <span class="font-mono">{format!("TCP {}", p.front_port)}</span>
                                                            " → "<span class="font-mono text-xs">{format!("{}/{}:{}", p.app, p.service, p.port)}</span>
                                                            {served.map(|t| view! {
                                                                {(!t.error.is_empty()).then(|| view! { <span class="ml-2 text-xs text-red-700 dark:text-red-300">{t.error.clone()}</span> })}
                                                                <Backends list=t.backends.clone() />
                                                            })}
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Card>
    }
}

#[component]
fn Backends(list: Vec<BackendRow>) -> impl IntoView {
    view! {
        <ul class="mt-1 flex flex-wrap gap-1">
            {list.into_iter().map(|b| {
                let label = match b.state.as_str() {
                    "up" => "up",
                    "ejected" => "ejected: refused connections",
                    "probe_failing" => "probe failing",
                    "probe_pending" => "probe pending",
                    other => other,
                }.to_string();
                view! {
                    <li class="rounded border border-slate-200 px-1.5 py-0.5 font-mono text-xs dark:border-slate-700" title=b.task.clone()>
                        {b.address.clone()}" "<StatusBadge status=label />
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
