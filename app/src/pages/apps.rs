//! Apps: the list, deploying a new one (paste or pick a template, check it, fill in its variables),
//! and an app's page (operation progress, services and tasks, scale, resources, versions with diffs
//! and rollback, edit, redeploy, stop/start, delete).

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::app::{
    app_diff, get_app, get_template, get_templates, list_apps, vars_to_text, AppPage, CheckApp, ConfirmRelease,
    DeleteApp, DeployApp, RedeployApp, ReleaseProgressive, ReleaseRow, RollbackApp, RollbackRelease, ScaleService,
    ServiceRow, SetReleaseWeight, SetServiceResources, StartApp, StopApp, UpdateApp,
};
use crate::api::cluster::{get_clusters, JobRow};
use crate::components::compose_editor::{filled, ComposeEditor, VariablesForm};
use crate::components::observe::{EventsTimeline, LogViewer, MetricsPanel};
use crate::components::table::{use_list_args, ListSearch, Pager, SortHeader};
use crate::components::traffic::TrafficPanel;
use crate::components::ui::{
    go_to, ticker, Card, ErrorBanner, PageHeader, ProgressBar, StatusBadge, BUTTON, DANGER, INPUT, PRIMARY,
};
use crate::error::AppError;
use crate::format;

/// The largest Compose file the deploy form reads from disk.
const MAX_UPLOAD: f64 = 256.0 * 1024.0;
const SMALL: &str =
    "w-20 rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950";
const TH: &str = "px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500";
const TD: &str = "px-3 py-2 align-top";

fn error_view(e: AppError) -> AnyView {
    if e.code == "unauthenticated" {
        go_to("/signin");
    }
    view! { <ErrorBanner message=e.display() testid="page-error" /> }.into_any()
}

#[component]
pub fn Apps() -> impl IntoView {
    let tick = ticker(Duration::from_secs(5));
    let args = use_list_args();
    let apps =
        crate::codec::resource(move || (tick.get(), args.get()), |(_, a)| list_apps(a.q, a.sort, a.desc, a.page));
    let body = move || {
        Suspend::new(async move {
            match apps.await {
                Ok(p) if p.total == 0 && args.with_untracked(|a| a.q.is_empty()) => view! {
                    <p class="text-sm text-slate-500" data-testid="no-apps">"No apps yet. Deploy one from a Compose template."</p>
                }.into_any(),
                Ok(p) => view! {
                    <div tabindex="0" role="region" aria-label="Apps" class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                        <table class="min-w-full text-sm" data-testid="apps">
                            <thead><tr>
                                <SortHeader label="App" column="name" args />
                                <SortHeader label="Cluster" column="cluster" args />
                                <SortHeader label="Status" column="status" args />
                                <SortHeader label="Version" column="version" args />
                                <SortHeader label="Changed" column="changed" args />
                            </tr></thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {p.rows.is_empty().then(|| view! { <tr><td colspan="5" class=TD data-testid="no-match">"No app matches the search."</td></tr> })}
                                {p.rows.into_iter().map(|a| { let row_name = a.name.clone(); view! {
                                    <tr data-testid="app-row" data-name=row_name>
                                        <td class=TD><A href=format!("/apps/{}", a.id) attr:class="font-medium text-sky-700 hover:underline dark:text-sky-300">{a.name.clone()}</A></td>
                                        <td class=TD>{a.cluster_name.clone()}</td>
                                        <td class=TD><StatusBadge status=a.status.clone() /></td>
                                        <td class=TD>{format!("v{}", a.version)}</td>
                                        <td class=TD>{format::date_utc(a.updated_at)}</td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <Pager total=p.total page=p.page per_page=p.per_page args noun="app" />
                }.into_any(),
                Err(e) => error_view(e),
            }
        })
    };
    view! {
        <Title text="Apps · Berth" />
        <div class="space-y-6">
            <PageHeader title="Apps" subtitle="Compose templates running as swarm stacks.">
                <A href="/templates" attr:class=BUTTON>"Templates"</A>
                <A href="/apps/new" attr:class=PRIMARY attr:data-testid="new-app">"Deploy an app"</A>
            </PageHeader>
            <ListSearch args label="Search apps" placeholder="Name, cluster, status, author" />
            <Transition fallback=|| ()>{body}</Transition>
        </div>
    }
}

/// Deploy a new app: a cluster, a name, the template (pasted, or from the catalog with `?template=`)
/// and its variables.
#[component]
pub fn NewApp() -> impl IntoView {
    let query = use_query_map();
    let template_id = move || query.read().get("template").and_then(|t| t.parse::<i64>().ok());
    let preset_cluster = query.read_untracked().get("cluster").unwrap_or_default();
    let text = RwSignal::new(String::new());
    let values = RwSignal::new(BTreeMap::<String, String>::new());
    let cluster = RwSignal::new(preset_cluster);
    let name = RwSignal::new(String::new());
    let check = ServerAction::<CheckApp>::new();
    let deploy = ServerAction::<DeployApp>::new();
    let clusters = crate::codec::resource(|| (), |_| get_clusters());
    let template = crate::codec::resource(template_id, |id| async move {
        match id {
            Some(id) => get_template(id).await.map(Some),
            None => Ok(None),
        }
    });
    // A template from the catalog fills the editor once.
    Effect::new(move |_| {
        if let Some(Ok(Some(t))) = template.get() {
            text.set(t.template.compose.clone());
            if name.get_untracked().is_empty() {
                name.set(t.template.name.clone());
            }
        }
    });
    let cluster_id = move || cluster.get().parse::<i64>().ok();
    let templates = crate::codec::resource(|| (), |_| get_templates());
    let upload_error = RwSignal::new(None::<String>);
    let run_check = Callback::new(move |_| {
        if let Some(c) = cluster_id() {
            check.dispatch(CheckApp {
                cluster: c,
                compose: text.get_untracked(),
                vars: vars_to_text(&filled(&values.get_untracked())),
            });
        }
    });
    let result = Signal::derive(move || check.value().get().and_then(Result::ok));
    // The variables of the latest check, or before any check those the catalog template declares.
    let variables = Signal::derive(move || match result.get() {
        Some(c) => c.variables,
        None => template.get().and_then(Result::ok).flatten().map(|t| t.template.variables).unwrap_or_default(),
    });
    // A Compose file from disk replaces the editor's text, then it is checked.
    let on_file = move |ev: leptos::ev::Event| {
        let input = event_target::<web_sys::HtmlInputElement>(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        if file.size() > MAX_UPLOAD {
            upload_error.set(Some(format!(
                "{} has {}: a Compose file may have at most 256 KB",
                file.name(),
                format::bytes(file.size() as i64)
            )));
            return;
        }
        upload_error.set(None);
        let read = file.text();
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(read).await.ok().and_then(|v| v.as_string()) {
                Some(t) => {
                    text.set(t);
                    run_check.run(());
                }
                None => upload_error.set(Some("The file could not be read as text".into())),
            }
        });
    };
    let navigate = use_navigate();
    let pick = navigate.clone();
    let on_pick = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev);
        let cluster = cluster.get_untracked();
        let path = if chosen.is_empty() {
            format!("/apps/new?cluster={cluster}")
        } else {
            format!("/apps/new?template={chosen}&cluster={cluster}")
        };
        pick(&path, Default::default());
    };
    Effect::new(move |_| {
        if let Some(Ok(d)) = deploy.value().get() {
            navigate(&format!("/apps/{}", d.app), Default::default());
        }
    });
    let field_error = move |field: &'static str| {
        deploy.value().get().and_then(Result::err).filter(|e| e.field.as_deref() == Some(field)).map(|e| e.message)
    };
    let submit = move |_| {
        let Some(c) = cluster_id() else { return };
        deploy.dispatch(DeployApp {
            cluster: c,
            name: name.get_untracked(),
            compose: text.get_untracked(),
            vars: vars_to_text(&filled(&values.get_untracked())),
            template: template_id(),
        });
    };
    view! {
        <Title text="Deploy an app · Berth" />
        <div class="max-w-5xl space-y-6">
            <PageHeader title="Deploy an app" subtitle="Paste a Compose file (v2 or v3) or start from a template; Berth checks it before anything runs." />
            <div class="space-y-5 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="grid gap-5 sm:grid-cols-2">
                    <label class="block space-y-1">
                        <span class="text-sm font-medium">"Cluster"</span>
                        <select class=INPUT data-testid="app-cluster" on:change=move |ev| cluster.set(event_target_value(&ev)) prop:value=move || cluster.get()>
                            <option value="">"Choose…"</option>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    clusters.await.unwrap_or_default().into_iter().map(|c| {
                                        let selected = cluster.get_untracked() == c.id.to_string();
                                        view! { <option value=c.id.to_string() selected=selected>{c.name}</option> }
                                    }).collect_view()
                                })}
                            </Suspense>
                        </select>
                    </label>
                    <label class="block space-y-1">
                        <span class="text-sm font-medium">"Name"</span>
                        <input class=INPUT data-testid="app-name" autocomplete="off" placeholder="shop"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                        <span class="block text-xs text-slate-500">"The stack's name on the swarm: a-z, 0-9 and '-'"</span>
                        <span class="block text-xs text-red-600" data-testid="error-name">{move || field_error("name")}</span>
                    </label>
                </div>
                <div class="flex flex-wrap items-end gap-4">
                    <label class="block space-y-1">
                        <span class="text-sm font-medium">"Start from a template"</span>
                        <select class=INPUT data-testid="template-picker" on:change=on_pick>
                            <option value="">"None: paste or upload"</option>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    let chosen = template_id();
                                    templates.await.unwrap_or_default().into_iter().map(|t| {
                                        view! { <option value=t.id.to_string() selected=chosen == Some(t.id)>{t.name}</option> }
                                    }).collect_view()
                                })}
                            </Suspense>
                        </select>
                    </label>
                    <label class="block space-y-1">
                        <span class="text-sm font-medium">"Or upload a Compose file"</span>
                        <input type="file" accept=".yml,.yaml,text/yaml,application/yaml,text/plain" data-testid="upload"
                            class="block text-sm file:mr-3 file:rounded-md file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:text-sm dark:file:border-slate-700 dark:file:bg-slate-900"
                            on:change=on_file />
                        <span class="block text-xs text-red-600" data-testid="error-upload">{move || upload_error.get()}</span>
                    </label>
                </div>
                <ComposeEditor text check=result on_change=run_check />
                <VariablesForm variables values />
                {move || check.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() /> })}
                {move || deploy.value().get().and_then(Result::err).filter(|e| e.field.as_deref() != Some("name")).map(|e| view! { <ErrorBanner message=e.display() testid="deploy-error" /> })}
                <div class="flex items-center justify-end gap-2">
                    <button type="button" class=BUTTON data-testid="check" disabled=move || cluster_id().is_none() on:click=move |_| run_check.run(())>"Check"</button>
                    <button type="button" class=PRIMARY data-testid="deploy" disabled=move || deploy.pending().get() || cluster_id().is_none() on:click=submit>
                        {move || if deploy.pending().get() { "Starting…" } else { "Deploy" }}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// The actions of an app's page.
#[derive(Clone, Copy)]
struct Actions {
    scale: ServerAction<ScaleService>,
    resources: ServerAction<SetServiceResources>,
    redeploy: ServerAction<RedeployApp>,
    rollback: ServerAction<RollbackApp>,
    update: ServerAction<UpdateApp>,
    stop: ServerAction<StopApp>,
    start: ServerAction<StartApp>,
    delete: ServerAction<DeleteApp>,
    weight: ServerAction<SetReleaseWeight>,
    confirm: ServerAction<ConfirmRelease>,
    unrelease: ServerAction<RollbackRelease>,
    progressive: ServerAction<ReleaseProgressive>,
}

impl Actions {
    fn version(&self) -> usize {
        self.weight.version().get()
            + self.progressive.version().get()
            + self.confirm.version().get()
            + self.unrelease.version().get()
            + self.scale.version().get()
            + self.resources.version().get()
            + self.redeploy.version().get()
            + self.rollback.version().get()
            + self.update.version().get()
            + self.stop.version().get()
            + self.start.version().get()
    }

    fn error(&self) -> Option<AppError> {
        let e = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
        let j = |v: Option<Result<i64, AppError>>| v.and_then(Result::err);
        e(self.scale.value().get())
            .or_else(|| e(self.resources.value().get()))
            .or_else(|| e(self.stop.value().get()))
            .or_else(|| j(self.redeploy.value().get()))
            .or_else(|| j(self.rollback.value().get()))
            .or_else(|| j(self.update.value().get()))
            .or_else(|| j(self.start.value().get()))
            .or_else(|| j(self.delete.value().get()))
            .or_else(|| self.weight.value().get().and_then(Result::err))
            .or_else(|| j(self.confirm.value().get()))
            .or_else(|| j(self.unrelease.value().get()))
            .or_else(|| j(self.progressive.value().get()))
    }
}

/// What the edit panel starts from: the template, the variables (secret ones without a value), the
/// cluster, and what was changed by hand since (a new version undoes it).
type EditSeed = (String, Vec<(String, Option<String>)>, i64, Vec<String>);

/// What the person is doing on an app's page. It lives outside the part that refreshes every two
/// seconds, and while any of it is open the refresh pauses, so nothing typed is lost.
#[derive(Clone, Copy)]
struct Ui {
    /// The edit panel, with what it started from.
    editing: RwSignal<Option<EditSeed>>,
    deleting: RwSignal<bool>,
    /// Replica counts typed but not yet applied, by service.
    scale: RwSignal<BTreeMap<String, String>>,
    /// The service whose resources form is open.
    resources: RwSignal<Option<String>>,
    /// A scale field has the focus.
    typing: RwSignal<bool>,
    /// The version whose changes are shown (kept across refreshes; it does not pause them).
    diff: RwSignal<Option<i64>>,
    /// The versions' changes fetched so far.
    diffs: RwSignal<BTreeMap<i64, Vec<crate::api::app::DiffRow>>>,
    /// The version a rollback to waits for confirmation.
    rolling: RwSignal<Option<i64>>,
}

impl Ui {
    fn paused(&self) -> bool {
        self.editing.with(Option::is_some)
            || self.deleting.get()
            || self.resources.with(Option::is_some)
            || self.typing.get()
    }
}

#[component]
pub fn AppView() -> impl IntoView {
    let page = crate::components::ui::page_id("/apps/", "id");
    let id = move || page.get();
    let actions = Actions {
        scale: ServerAction::new(),
        resources: ServerAction::new(),
        redeploy: ServerAction::new(),
        rollback: ServerAction::new(),
        update: ServerAction::new(),
        stop: ServerAction::new(),
        start: ServerAction::new(),
        delete: ServerAction::new(),
        weight: ServerAction::new(),
        confirm: ServerAction::new(),
        unrelease: ServerAction::new(),
        progressive: ServerAction::new(),
    };
    let ui = Ui {
        editing: RwSignal::new(None),
        deleting: RwSignal::new(false),
        scale: RwSignal::new(BTreeMap::new()),
        resources: RwSignal::new(None),
        typing: RwSignal::new(false),
        diff: RwSignal::new(None),
        diffs: RwSignal::new(BTreeMap::new()),
        rolling: RwSignal::new(None),
    };
    let query = use_query_map();
    let tab = Memo::new(move |_| {
        let asked = query.read().get("tab").unwrap_or_default();
        TABS.iter().map(|t| t.0).find(|k| *k == asked).unwrap_or("overview")
    });
    let tick = ticker(Duration::from_secs(2));
    // The tick, held still while the person is in the middle of something.
    let refresh = Memo::new(move |prev: Option<&u64>| match prev {
        Some(p) if ui.paused() => *p,
        _ => tick.get(),
    });
    let page = crate::codec::resource(move || (id(), refresh.get(), actions.version()), |(id, _, _)| get_app(id));
    crate::toast_on_success!(actions.scale, "Scaling: swarm starts or stops the replicas");
    crate::toast_on_success!(actions.resources, "Resources applied: the tasks are replaced");
    crate::toast_on_success!(actions.stop, "App stopped");
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(job)) = actions.delete.value().get() {
            navigate(&format!("/jobs/{job}"), Default::default());
        }
    });
    // A new version that started closes the editor; one that was refused leaves it open.
    Effect::new(move |_| {
        if let Some(Ok(_)) = actions.update.value().get() {
            ui.editing.set(None);
        }
        if let Some(Ok(_)) = actions.progressive.value().get() {
            ui.editing.set(None);
        }
    });
    Effect::new(move |_| {
        if actions.scale.value().get().is_some() {
            ui.scale.set(BTreeMap::new());
        }
        if actions.resources.value().get().is_some_and(|r| r.is_ok()) {
            ui.resources.set(None);
        }
    });
    let header = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <Header p actions ui /> }.into_any(),
                Err(e) => error_view(e),
            }
        })
    };
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <AppBody p actions ui tab /> }.into_any(),
                Err(_) => ().into_any(),
            }
        })
    };
    let app_id = Signal::derive(id);
    // Whether the caller may change the app (read from the page's data for the tabs outside it).
    let operate = Signal::derive(move || page.with(|p| matches!(p, Some(Ok(p)) if p.access.operate)));
    view! {
        <Title text="App · Berth" />
        <div class="space-y-6">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{header}</Transition>
            {move || ui.deleting.get().then(|| view! {
                <ActionForm action=actions.delete>
                    <div role="alertdialog" class="flex flex-wrap items-center gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950">
                        <input type="hidden" name="id" value=app_id.get_untracked() />
                        <span class="flex-1">"Delete this app? Its services, networks, secrets and configs are removed."</span>
                        <label class="flex items-center gap-1"><input type="checkbox" name="remove_volumes" data-testid="remove-volumes" />"Also remove its volumes"</label>
                        <button type="submit" class=DANGER data-testid="delete-confirm">"Delete app"</button>
                        <button type="button" class=BUTTON on:click=move |_| ui.deleting.set(false)>"Cancel"</button>
                    </div>
                </ActionForm>
            })}
            {move || actions.error().map(|e| view! { <ErrorBanner message=e.display() testid="action-error" /> })}
            {move || ui.editing.get().map(|(compose, vars, cluster, undone)| view! {
                <Edit id=app_id.get_untracked() compose vars cluster undone update=actions.update progressive=actions.progressive ui />
            })}
            <ReleasePanel page actions />
            <TabBar id=app_id tab />
            <Transition fallback=|| ()>{body}</Transition>
            <AppObserve page tab />
            {move || (tab.get() == "scaling").then(|| view! { <super::app_scaling::ScalingTab app=app_id.get_untracked() operate /> })}
            {move || (tab.get() == "jobs").then(|| view! { <super::app_jobs::JobsTab app=app_id.get_untracked() operate /> })}
            <crate::pages::app_triggers::AppTriggers page tab />
        </div>
    }
}

/// What the observability panels need to know of an app: its cluster, name, and services with
/// their tasks' containers.
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    cluster: i64,
    app: String,
    /// (full swarm service name, [(container id, label)]).
    services: Vec<(String, Vec<(String, String)>)>,
    /// Whether any service has routes (then the routers count its requests).
    routed: bool,
}

/// Charts, live logs and the events of the app's services, each on its tab. It sits outside the
/// part of the page that refreshes, so the chosen service, range, paused logs and search survive
/// the refreshes; the replicas offered follow the page's own data, so they are never stale.
#[component]
fn AppObserve(page: crate::codec::Res<Result<AppPage, AppError>>, tab: Memo<&'static str>) -> impl IntoView {
    let observed = RwSignal::new(None::<Observed>);
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            let app = p.app.name.clone();
            let services = p
                .services
                .iter()
                .map(|s| {
                    let containers = s
                        .tasks
                        .iter()
                        .filter(|t| !t.container_id.is_empty())
                        .map(|t| {
                            let slot = t.slot.map(|n| format!(".{n}")).unwrap_or_default();
                            (t.container_id.clone(), format!("{}{slot} on {} ({})", s.name, t.node, t.state))
                        })
                        .collect();
                    (format!("{app}_{}", s.name), containers)
                })
                .collect();
            let routed = p.services.iter().any(|s| !s.urls.is_empty());
            let next = Observed { cluster: p.app.cluster_id, app, services, routed };
            if observed.with_untracked(|o| o.as_ref() != Some(&next)) {
                observed.set(Some(next));
            }
        }
    });
    let service = RwSignal::new(String::new());
    let container = RwSignal::new(String::new());
    Effect::new(move |_| {
        observed.with(|o| {
            if let Some(o) = o {
                if !o.services.iter().any(|(name, _)| *name == service.get_untracked()) {
                    service.set(o.services.first().map(|s| s.0.clone()).unwrap_or_default());
                    container.set(String::new());
                }
                // A replica that is gone (scaled down, replaced) is no longer offered.
                let c = container.get_untracked();
                if !c.is_empty() && !o.services.iter().any(|(_, cs)| cs.iter().any(|(id, _)| *id == c)) {
                    container.set(String::new());
                }
            }
        })
    });
    let subject = Memo::new(move |_| observed.with(|o| o.as_ref().map(|o| (o.cluster, o.app.clone()))));
    let routed = Memo::new(move |_| observed.with(|o| o.as_ref().is_some_and(|o| o.routed)));
    let scope = Signal::derive(move || if container.get().is_empty() { "service" } else { "container" });
    let key = Signal::derive(move || if container.get().is_empty() { service.get() } else { container.get() });
    let containers = move || {
        observed.with(|o| {
            o.as_ref()
                .and_then(|o| o.services.iter().find(|s| s.0 == service.get()).map(|s| s.1.clone()))
                .unwrap_or_default()
        })
    };
    let pickers = move || {
        view! {
            <div class="flex flex-wrap items-end gap-3">
                <label class="text-sm">"Service"
                    <select class=INPUT data-testid="observe-service" on:change=move |ev| { service.set(event_target_value(&ev)); container.set(String::new()); }>
                        {move || observed.with(|o| o.as_ref().map(|o| o.services.iter().map(|(name, _)| {
                            let (value, current) = (name.clone(), name.clone());
                            view! { <option value=value selected=move || service.get() == current>{name.clone()}</option> }
                        }).collect_view()))}
                    </select>
                </label>
                <label class="text-sm">"Replica"
                    <select class=INPUT data-testid="observe-container" on:change=move |ev| container.set(event_target_value(&ev))>
                        <option value="" selected=move || container.get().is_empty()>"All replicas"</option>
                        {move || containers().into_iter().map(|(id, label)| {
                            let current = id.clone();
                            view! { <option value=id selected=move || container.get() == current>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
            </div>
        }
    };
    move || {
        subject.get().map(|(cluster, app)| match tab.get() {
            "monitoring" => view! {
                <Card title="Monitoring">
                    <div class="space-y-4" data-testid="monitoring">
                        {pickers()}
                        <MetricsPanel cluster scope key />
                    </div>
                </Card>
                {
                    let app = app.clone();
                    move || {
                        let app = app.clone();
                        routed.get().then(move || view! {
                            <Card title="Requests">
                                <TrafficPanel cluster app compact=true />
                            </Card>
                        })
                    }
                }
            }
            .into_any(),
            "logs" => view! {
                <Card title="Logs">
                    <div class="space-y-4" data-testid="logs">
                        {pickers()}
                        <LogViewer cluster app=app.clone() service=service container />
                    </div>
                </Card>
            }
            .into_any(),
            "events" => view! {
                <Card title="Events">
                    <EventsTimeline cluster app=app.clone() />
                </Card>
            }
            .into_any(),
            _ => ().into_any(),
        })
    }
}

#[component]
fn Header(p: AppPage, actions: Actions, ui: Ui) -> impl IntoView {
    let app = p.app.clone();
    let id = app.id;
    let operate = p.access.operate;
    let stopped = app.status == "stopped";
    let busy = p.jobs.first().is_some_and(|j| j.status == "running");
    let seed = (p.compose.clone(), p.vars.clone(), app.cluster_id, p.by_hand.clone());
    view! {
        <PageHeader title=app.name.clone() subtitle=format!("Version {} on cluster {}", app.version, p.cluster_name)>
            <StatusBadge status=app.status.clone() testid="app-status" />
            {operate.then(|| view! {
                <button type="button" class=BUTTON data-testid="edit" on:click=move |_| {
                    ui.editing.set(if ui.editing.with_untracked(Option::is_some) { None } else { Some(seed.clone()) });
                }>"Edit"</button>
                <button type="button" class=BUTTON data-testid="redeploy" disabled=busy on:click=move |_| { actions.redeploy.dispatch(RedeployApp { id }); }>"Redeploy"</button>
                {if stopped {
                    view! { <button type="button" class=BUTTON data-testid="start" disabled=busy on:click=move |_| { actions.start.dispatch(StartApp { id }); }>"Start"</button> }.into_any()
                } else {
                    view! { <button type="button" class=BUTTON data-testid="stop" disabled=busy on:click=move |_| { actions.stop.dispatch(StopApp { id }); }>"Stop"</button> }.into_any()
                }}
                <button type="button" class=BUTTON data-testid="delete" on:click=move |_| ui.deleting.set(true)>"Delete"</button>
            })}
        </PageHeader>
    }
}

#[component]
fn AppBody(p: AppPage, actions: Actions, ui: Ui, tab: Memo<&'static str>) -> impl IntoView {
    let app = p.app.clone();
    let id = app.id;
    let operate = p.access.operate;
    let latest = p.jobs.first().cloned();
    let current = app.version;
    let (services, extra, versions) = (p.services.clone(), p.extra_services.clone(), p.versions.clone());
    view! {
        {(!app.message.is_empty()).then(|| view! { <ErrorBanner message=app.message.clone() testid="app-message" /> })}
        {p.live_error.clone().map(|e| view! { <ErrorBanner message=format!("Live state unavailable: {e}") testid="live-error" /> })}
        {latest.map(|job| view! { <Operation job /> })}
        {move || (tab.get() == "overview").then(|| {
            let extra = extra.clone();
            let services = services.clone();
            view! {
                <Card title="Services">
                    <div class="space-y-4" data-testid="services">
                        {services.into_iter().map(|s| view! { <Service s app=id operate actions ui /> }).collect_view()}
                        {(!extra.is_empty()).then(|| view! {
                            <p class="text-sm text-amber-700 dark:text-amber-300" data-testid="extra-services">
                                "Running in the stack but not in this version: "{extra.join(", ")}
                            </p>
                        })}
                    </div>
                </Card>
            }
        })}
        {move || (tab.get() == "versions").then(|| view! {
            <Versions id versions=versions.clone() current operate rollback=actions.rollback ui />
        })}
    }
}

/// The tabs of an app's page: (key in `?tab=`, label).
const TABS: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("versions", "Versions"),
    ("monitoring", "Monitoring"),
    ("logs", "Logs"),
    ("events", "Events"),
    ("scaling", "Scaling"),
    ("jobs", "Jobs"),
    ("triggers", "Triggers"),
];

/// The tab bar: links, so a tab can be shared and the back button goes to the one before.
#[component]
fn TabBar(id: Signal<i64>, tab: Memo<&'static str>) -> impl IntoView {
    view! {
        <nav role="tablist" aria-label="App sections" class="-mb-2 flex gap-1 overflow-x-auto border-b border-slate-200 dark:border-slate-800">
            {TABS.iter().map(|(key, label)| {
                let key = *key;
                view! {
                    <A href=move || format!("/apps/{}?tab={key}", id.get())
                        attr:role="tab"
                        attr:aria-selected=move || (tab.get() == key).to_string()
                        attr:data-testid=format!("tab-{key}")
                        attr:class="whitespace-nowrap border-b-2 border-transparent px-3 py-2 text-sm font-medium text-slate-600 hover:text-slate-900 aria-selected:border-sky-600 aria-selected:text-sky-700 dark:text-slate-300 dark:hover:text-white dark:aria-selected:text-sky-300">
                        {*label}
                    </A>
                }
            }).collect_view()}
        </nav>
    }
}

/// The latest operation on the app, live.
#[component]
fn Operation(job: JobRow) -> impl IntoView {
    let failed = job.status == "failed";
    let percent = job.progress;
    let title = match job.kind.as_str() {
        "app.create" => "Deploying",
        "app.update" => "Updating",
        "app.rollback" => "Rolling back",
        "app.redeploy" => "Redeploying",
        "app.start" => "Starting",
        "app.delete" => "Deleting",
        "app.release" => "Releasing blue-green",
        "app.release.confirm" => "Confirming the release",
        "app.release.rollback" => "Rolling the release back",
        _ => "Operation",
    };
    let elapsed = job.finished_at.unwrap_or(job.now) - job.started_at;
    view! {
        <div class="space-y-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="operation" data-status=job.status.clone()>
            <div class="flex items-center justify-between gap-3 text-sm">
                <span class="font-medium">{format!("{title} · {} · {} by {}", job.status, format::duration(elapsed), job.actor)}</span>
                <A href=format!("/jobs/{}", job.id) attr:class="text-sky-700 hover:underline dark:text-sky-300">"Details"</A>
            </div>
            <ProgressBar percent=Signal::derive(move || percent) failed=Signal::derive(move || failed) />
            <ol class="space-y-1 text-sm">
                {job.steps.into_iter().filter(|s| s.state != "pending").map(|s| view! {
                    <li data-testid="op-step" data-state=s.state.clone()>
                        <span class="font-medium">{s.name}</span>
                        {(!s.detail.is_empty()).then(|| view! { <span class="text-slate-500">" — "{s.detail}</span> })}
                    </li>
                }).collect_view()}
            </ol>
            {(!job.error.is_empty()).then(|| view! { <ErrorBanner message=job.error.clone() testid="op-error" /> })}
        </div>
    }
}

#[component]
fn Service(s: ServiceRow, app: i64, operate: bool, actions: Actions, ui: Ui) -> impl IntoView {
    let name = s.name.clone();
    let desired = s.desired.to_string();
    let healthy = s.running == s.desired && s.deployed;
    let (scale_name, input_name, res_name, open_name) = (name.clone(), name.clone(), name.clone(), name.clone());
    let open = move || ui.resources.with(|o| o.as_deref() == Some(open_name.as_str()));
    view! {
        <div class="rounded-lg border border-slate-200 p-3 dark:border-slate-800" data-testid="service" data-name=name.clone()>
            <div class="flex flex-wrap items-center gap-3">
                <span class="font-semibold">{name.clone()}</span>
                {(!s.side.is_empty()).then(|| {
                    let (label, tone) = if s.side == "old" {
                        ("old side", "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200")
                    } else {
                        ("new side", "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-200")
                    };
                    view! { <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {tone}") data-testid="release-side">{label}</span> }
                })}
                <span class="font-mono text-xs text-slate-500">{s.image.clone()}</span>
                {if s.job {
                    view! {
                        <a href=format!("/apps/{app}?tab=jobs") class="text-sm text-slate-600 underline hover:no-underline dark:text-slate-300" data-testid="replicas">
                            {format!("job of {} · {} running · runs on the Jobs tab", format::count(s.desired as i64, "completion"), s.running)}
                        </a>
                    }.into_any()
                } else {
                    view! {
                        <span class=if healthy { "text-sm text-emerald-700 dark:text-emerald-300" } else { "text-sm text-amber-700 dark:text-amber-300" } data-testid="replicas">
                            {replicas_text(s.running, s.desired, s.global)}
                        </span>
                    }.into_any()
                }}
                {(!s.update_state.is_empty()).then(|| view! { <span class="text-xs text-slate-500">{format!("update {}", s.update_state)}</span> })}
                {(!s.ports.is_empty()).then(|| view! { <span class="text-xs text-slate-500">{format!("ports {}", s.ports.join(", "))}</span> })}
                {(!s.urls.is_empty()).then(|| view! {
                    <span class="flex flex-wrap gap-2 text-xs" data-testid="route-links">
                        {s.urls.iter().map(|l| view! {
                            <a href=l.clone() target="_blank" rel="noopener noreferrer" class="font-mono text-sky-700 underline hover:no-underline dark:text-sky-300">{l.clone()}</a>
                        }).collect_view()}
                    </span>
                })}
                {(!s.links.is_empty()).then(|| view! {
                    <span class="flex flex-wrap gap-2 text-xs" data-testid="port-links">
                        {s.links.iter().map(|l| view! {
                            <a href=l.clone() target="_blank" rel="noopener noreferrer" class="font-mono text-sky-700 underline hover:no-underline dark:text-sky-300">{l.clone()}</a>
                        }).collect_view()}
                    </span>
                })}
                <span class="flex-1"></span>
                {(operate && !s.global && !s.job).then(|| {
                    let typed = input_name.clone();
                    let current = desired.clone();
                    view! {
                        <input type="number" min="0" max="1000" class=SMALL data-testid="scale-input" aria-label=format!("Replicas of {}", name.clone())
                            prop:value=move || ui.scale.with(|m| m.get(&typed).cloned()).unwrap_or_else(|| desired.clone())
                            on:focus=move |_| ui.typing.set(true)
                            on:blur=move |_| ui.typing.set(false)
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                let key = input_name.clone();
                                ui.scale.update(|m| { m.insert(key, value); });
                            } />
                        <button type="button" class=BUTTON data-testid="scale" on:click=move |_| {
                            let replicas = ui.scale.with_untracked(|m| m.get(&scale_name).cloned()).unwrap_or_else(|| current.clone());
                            actions.scale.dispatch(ScaleService { id: app, service: scale_name.clone(), replicas });
                        }>"Scale"</button>
                    }
                })}
                {operate.then(|| {
                    let toggle = res_name.clone();
                    view! {
                        <button type="button" class=BUTTON data-testid="resources" on:click=move |_| {
                            let name = toggle.clone();
                            ui.resources.update(|o| *o = if o.as_deref() == Some(name.as_str()) { None } else { Some(name) });
                        }>"Resources"</button>
                    }
                })}
            </div>
            {(!s.drift.is_empty()).then(|| view! {
                <ul class="mt-2 text-xs text-amber-700 dark:text-amber-300" data-testid="drift">
                    <li class="font-medium">"Differs from this version:"</li>
                    {s.drift.iter().map(|d| view! { <li data-testid="drift-field">{d.clone()}</li> }).collect_view()}
                </ul>
            })}
            {(!s.constraints.is_empty() || !s.spread.is_empty()).then(|| view! {
                <p class="mt-1 text-xs text-slate-500">{format!("placement: {}{}", s.constraints.join(", "), if s.spread.is_empty() { String::new() } else { format!(" · spread over {}", s.spread.join(", ")) })}</p>
            })}
            {
                let limits = [s.limit_cpus.clone(), s.limit_memory.clone(), s.reserve_cpus.clone(), s.reserve_memory.clone()];
                move || open().then(|| {
                    let [limit_cpus, limit_memory, reserve_cpus, reserve_memory] = limits.clone();
                    let service = res_name.clone();
                    view! {
                        <ActionForm action=actions.resources>
                            <input type="hidden" name="id" value=app />
                            <input type="hidden" name="service" value=service />
                            <div class="mt-2 flex flex-wrap items-end gap-2 text-sm" data-testid="resources-form">
                                <label class="text-xs">"CPU limit"<input name="limit_cpus" class=SMALL value=limit_cpus placeholder="0.5" /></label>
                                <label class="text-xs">"Memory limit"<input name="limit_memory" class=SMALL value=limit_memory placeholder="128M" /></label>
                                <label class="text-xs">"CPU reserved"<input name="reserve_cpus" class=SMALL value=reserve_cpus /></label>
                                <label class="text-xs">"Memory reserved"<input name="reserve_memory" class=SMALL value=reserve_memory /></label>
                                <button type="submit" class=BUTTON>"Apply"</button>
                            </div>
                        </ActionForm>
                    }
                })
            }
            <div class="mt-2 overflow-x-auto"><table class="min-w-full text-xs">
                <thead><tr><th class=TH>"Slot"</th><th class=TH>"Node"</th><th class=TH>"State"</th><th class=TH>"Restarts"</th><th class=TH>"Message"</th></tr></thead>
                <tbody>
                    {s.tasks.iter().map(|t| {
                        // Swarm's message for a healthy task ("started", "running") is not an error:
                        // red is only for the task's error.
                        let (text, class) = if t.error.is_empty() {
                            (t.message.clone(), format!("{TD} text-slate-500 dark:text-slate-400"))
                        } else {
                            (t.error.clone(), format!("{TD} text-red-700 dark:text-red-300"))
                        };
                        let failed = !t.error.is_empty();
                        view! {
                            <tr data-testid="task" data-state=t.state.clone()>
                                <td class=TD>{t.slot.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
                                <td class=TD>{t.node.clone()}</td>
                                <td class=TD>{t.state.clone()}{(t.desired_state != "running").then(|| format!(" → {}", t.desired_state))}</td>
                                <td class=TD data-testid="task-restarts">{t.restarts}</td>
                                <td class=class data-testid="task-message" data-error=failed.to_string()>{text}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </div>
    }
}

/// How many replicas run, said plainly: never "3/2 running" while an update stops old tasks.
fn replicas_text(running: u64, desired: u64, global: bool) -> String {
    if global {
        format!("{running} running (one per node)")
    } else if running > desired {
        format!("{desired} wanted · {running} running while old tasks stop")
    } else {
        format!("{running} of {desired} running")
    }
}

/// Editing the template and variables of an app: a new version, rolled out.
#[component]
fn Edit(
    id: i64,
    compose: String,
    vars: Vec<(String, Option<String>)>,
    cluster: i64,
    undone: Vec<String>,
    update: ServerAction<UpdateApp>,
    progressive: ServerAction<ReleaseProgressive>,
    ui: Ui,
) -> impl IntoView {
    let text = RwSignal::new(compose);
    let kept: Vec<String> = vars.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.clone()).collect();
    let values = RwSignal::new(vars.into_iter().filter_map(|(k, v)| Some((k, v?))).collect::<BTreeMap<_, _>>());
    let check = ServerAction::<CheckApp>::new();
    let preview = ServerAction::<crate::api::app::PreviewUpdate>::new();
    let run_check = Callback::new(move |_| {
        let vars = vars_to_text(&filled(&values.get_untracked()));
        check.dispatch(CheckApp { cluster, compose: text.get_untracked(), vars: vars.clone() });
        preview.dispatch(crate::api::app::PreviewUpdate { id, compose: text.get_untracked(), vars });
    });
    // Check once at the start so the variables show.
    Effect::new(move |_| run_check.run(()));
    let result = Signal::derive(move || check.value().get().and_then(Result::ok));
    let variables = Signal::derive(move || result.get().map(|c| c.variables).unwrap_or_default());
    let method = RwSignal::new(String::new());
    let (steps, interval, max_5xx, max_p99) = (
        RwSignal::new("5, 25, 50, 100".to_string()),
        RwSignal::new("60".to_string()),
        RwSignal::new("1".to_string()),
        RwSignal::new("1000".to_string()),
    );
    view! {
        <Card title="Edit: deploy a new version">
            <div class="space-y-4">
                {(!undone.is_empty()).then(|| view! {
                    <div role="note" class="rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-100" data-testid="undone">
                        <p class="font-medium">"The new version runs what its template says, which undoes:"</p>
                        <ul class="mt-1 list-disc pl-5">{undone.iter().map(|u| view! { <li>{u.clone()}</li> }).collect_view()}</ul>
                        <p class="mt-1">"Change the template to keep them."</p>
                    </div>
                })}
                <ComposeEditor text check=result on_change=run_check />
                <VariablesForm variables values kept />
                {move || preview.value().get().and_then(Result::ok).filter(|p| !p.is_empty()).map(|rows| view! {
                    <div class="rounded-lg border border-slate-200 p-3 text-sm dark:border-slate-700" data-testid="update-preview">
                        <p class="font-medium">"What deploying this version does"</p>
                        <ul class="mt-1 space-y-1">
                            {rows.into_iter().map(|r| {
                                let (what, tone) = match r.change.as_str() {
                                    "replaced" => ("tasks replaced (rolling)", "text-amber-800 dark:text-amber-200"),
                                    "in_place" => ("changed in place, tasks keep running", "text-sky-800 dark:text-sky-200"),
                                    "added" => ("new service", "text-emerald-800 dark:text-emerald-200"),
                                    "removed" => ("removed", "text-red-800 dark:text-red-200"),
                                    _ => ("keeps running as it is", "text-slate-600 dark:text-slate-400"),
                                };
                                view! {
                                    <li data-testid="preview-service" data-name=r.service.clone() data-change=r.change.clone()>
                                        <span class="font-semibold">{r.service.clone()}</span>": "<span class=tone>{what}</span>
                                        {(!r.fields.is_empty()).then(|| view! { <span class="text-xs text-slate-500">{format!(" — {}", r.fields.join("; "))}</span> })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </div>
                })}
                <div class="flex flex-wrap items-end justify-end gap-2">
                    <label class="mr-auto text-sm">"How to update"
                        <select class=INPUT data-testid="update-method" on:change=move |ev| method.set(event_target_value(&ev))>
                            <option value="" selected=move || method.get().is_empty()>"As the template says (berth.update_method, else rolling)"</option>
                            <option value="rolling" selected=move || method.get() == "rolling">"Rolling update: swarm replaces the tasks"</option>
                            <option value="blue-green" selected=move || method.get() == "blue-green">"Blue-green: renamed services start beside the old ones at weight 0"</option>
                            <option value="progressive" selected=move || method.get() == "progressive">"Progressive: blue-green with the weight stepped by Berth while errors stay low"</option>
                        </select>
                    </label>
                    {move || (method.get() == "progressive").then(|| view! {
                        <div class="flex w-full flex-wrap items-end gap-3 rounded-lg border border-slate-200 p-3 text-sm dark:border-slate-700" data-testid="progressive-plan">
                            <label>"Steps (new side %)"<input class=INPUT data-testid="progressive-steps" prop:value=steps on:input=move |ev| steps.set(event_target_value(&ev)) /></label>
                            <label>"Seconds per step"<input class=SMALL type="number" min="1" data-testid="progressive-interval" prop:value=interval on:input=move |ev| interval.set(event_target_value(&ev)) /></label>
                            <label>"Roll back above 5xx %"<input class=SMALL type="number" min="0" max="100" step="0.1" prop:value=max_5xx on:input=move |ev| max_5xx.set(event_target_value(&ev)) /></label>
                            <label>"or p99 ms"<input class=SMALL type="number" min="1" prop:value=max_p99 on:input=move |ev| max_p99.set(event_target_value(&ev)) /></label>
                            <p class="w-full text-xs text-slate-500">"The new services need new names sharing the old ones' routes. Berth moves the new side to each step once every router serves the last one, judges its 5xx share and p99 as the routers measure them, confirms after the last step and rolls back by itself when a bound is crossed."</p>
                        </div>
                    })}
                    <button type="button" class=BUTTON on:click=move |_| ui.editing.set(None)>"Cancel"</button>
                    <button type="button" class=BUTTON on:click=move |_| run_check.run(())>"Check"</button>
                    <button type="button" class=PRIMARY data-testid="update" disabled=move || update.pending().get() || progressive.pending().get() on:click=move |_| {
                        let (compose, vars) = (text.get_untracked(), vars_to_text(&filled(&values.get_untracked())));
                        if method.get_untracked() == "progressive" {
                            progressive.dispatch(ReleaseProgressive {
                                id,
                                compose,
                                vars,
                                steps: steps.get_untracked(),
                                interval: interval.get_untracked(),
                                max_5xx: max_5xx.get_untracked(),
                                max_p99: max_p99.get_untracked(),
                            });
                        } else {
                            update.dispatch(UpdateApp { id, compose, vars, method: method.get_untracked() });
                        }
                    }>"Deploy new version"</button>
                </div>
            </div>
        </Card>
    }
}

/// A blue-green release in progress: both sides, the weight the new side gets (typed or picked, and
/// what every router serves; the split drawn as SVG, as the content security policy allows no style
/// attributes), **Confirm** and **Roll back**. It sits outside the part of the page
/// that refreshes: the weight being typed and an open confirmation survive the refreshes, while
/// the state, the sides and the served weight follow the page's data.
#[component]
fn ReleasePanel(page: crate::codec::Res<Result<AppPage, AppError>>, actions: Actions) -> impl IntoView {
    let release = RwSignal::new(None::<(ReleaseRow, i64, bool)>);
    let traffic = RwSignal::new(Vec::<crate::api::app::SideTraffic>::new());
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            let next = p.release.clone().filter(|r| r.open).map(|r| (r, p.app.id, p.access.operate));
            if release.with_untracked(|r| *r != next) {
                release.set(next);
            }
            if traffic.with_untracked(|t| *t != p.release_traffic) {
                traffic.set(p.release_traffic.clone());
            }
        }
    });
    let typed = RwSignal::new(None::<String>);
    let asking = RwSignal::new(None::<&'static str>);
    // A weight that was applied is what the release says from now on.
    Effect::new(move |_| {
        if let Some(Ok(_)) = actions.weight.value().get() {
            typed.set(None);
        }
    });
    let shown = move || {
        typed.get().unwrap_or_else(|| release.with(|r| r.as_ref().map(|r| r.0.weight.to_string()).unwrap_or_default()))
    };
    move || {
        release.get().map(|(r, id, operate)| {
            let awaiting = r.state == "awaiting";
            let can_roll_back = awaiting || r.state == "failed" || r.state == "progressing";
            let can_confirm = awaiting || r.state == "progressing";
            let progressive = r.progressive.clone();
            let (weight, served) = (r.weight, r.served_weight);
            let pairs = r.pairs.clone();
            let state_text = match r.state.as_str() {
                "starting" => "starting the new side",
                "awaiting" => "both sides run: move the weight, then confirm or roll back",
                "confirming" => "confirming: moving everything to the new side",
                "rolling_back" => "rolling back: moving everything to the old side",
                "failed" => "the new side did not come up: roll back",
                "progressing" => "progressive: Berth steps the weight while the new side stays within bounds",
                other => other,
            }
            .to_string();
            view! {
                <Card title=if progressive.is_some() { "Progressive release" } else { "Blue-green release" }>
                    <div class="space-y-4 text-sm" data-testid="release" data-state=r.state.clone() data-weight=weight.to_string()>
                        <p>
                            <span class="font-medium">{format!("Version {} → {}", r.from_version, r.to_version)}</span>
                            " · "<span data-testid="release-state">{state_text}</span>
                            {(!r.message.is_empty()).then(|| view! { <span class="text-red-700 dark:text-red-300">{format!(" — {}", r.message)}</span> })}
                        </p>
                        <ul class="space-y-1">
                            {pairs.into_iter().map(|(old, new)| {
                                let numbers = |side: String| move || traffic.with(|t| match t.iter().find(|s| s.side == side) {
                                    Some(s) => format!(
                                        "{:.1} req/s · {:.1} % 5xx{}",
                                        s.rps,
                                        s.err5xx_pct,
                                        s.p99_ms.map(|p| format!(" · p99 {p:.0} ms")).unwrap_or_default()
                                    ),
                                    None => "no requests yet".to_string(),
                                });
                                view! {
                                    <li data-testid="release-pair" class="flex flex-wrap gap-x-2">
                                        <span><span class="font-semibold">{old.clone()}</span>" (old side): "<span class="text-slate-500" data-testid="old-traffic">{numbers(old.clone())}</span></span>
                                        <span>"→"</span>
                                        <span><span class="font-semibold">{new.clone()}</span>" (new side): "<span class="text-slate-500" data-testid="new-traffic">{numbers(new.clone())}</span></span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        {progressive.map(|p| {
                            let steps = p.steps.iter().enumerate().map(|(i, w)| {
                                let tone = if i < p.step { "text-emerald-700 dark:text-emerald-300" } else if i == p.step { "font-semibold text-sky-700 dark:text-sky-300" } else { "text-slate-500" };
                                view! { <span class=tone>{format!("{w} %")}</span> }
                            }).collect_view();
                            view! {
                                <p class="flex flex-wrap items-center gap-2" data-testid="progressive-steps-view">
                                    "Steps: "{steps}
                                    <span class="text-xs text-slate-500">{format!(
                                        "· {} s each · rolls back above {} % 5xx or p99 {} ms (from {} requests a step)",
                                        p.interval_s, p.max_5xx_pct, p.max_p99_ms, p.min_requests
                                    )}</span>
                                </p>
                            }
                        })}
                        <div>
                            <svg viewBox="0 0 100 4" preserveAspectRatio="none" class="h-4 w-full overflow-hidden rounded" role="img"
                                aria-label=format!("old side {} %, new side {weight} %", 100 - weight)>
                                <rect x="0" y="0" height="4" width=(100 - weight).to_string() class="fill-slate-300 dark:fill-slate-600" />
                                <rect x=(100 - weight).to_string() y="0" height="4" width=weight.to_string() class="fill-sky-600" />
                            </svg>
                            <p class="mt-1 flex justify-between text-xs font-medium">
                                <span>{format!("old side {} %", 100 - weight)}</span>
                                <span class="text-sky-700 dark:text-sky-300">{format!("new side {weight} %")}</span>
                            </p>
                            <p class="mt-1 text-xs text-slate-500" data-testid="release-served">
                                {match served {
                                    Some(s) if s == weight => format!("Every router serves the new side at {s} %."),
                                    Some(s) => format!("Routers serve {s} %; moving to {weight} %…"),
                                    None => format!("Routers are taking {weight} %…"),
                                }}
                            </p>
                        </div>
                        {operate.then(|| view! {
                            <div class="flex flex-wrap items-end gap-2">
                                <label class="text-sm">"New side's share (%)"
                                    <input type="number" min="0" max="100" step="1" class=SMALL data-testid="release-weight"
                                        disabled=!awaiting
                                        prop:value=shown
                                        on:input=move |ev| typed.set(Some(event_target_value(&ev))) />
                                </label>
                                <input type="range" min="0" max="100" step="5" class="w-40" aria-label="New side's share"
                                    disabled=!awaiting prop:value=shown
                                    on:input=move |ev| typed.set(Some(event_target_value(&ev))) />
                                {[0u32, 10, 50, 100].into_iter().map(|w| view! {
                                    <button type="button" class=BUTTON disabled=!awaiting on:click=move |_| typed.set(Some(w.to_string()))>{format!("{w} %")}</button>
                                }).collect_view()}
                                <button type="button" class=PRIMARY data-testid="release-set-weight"
                                    disabled=move || !awaiting || actions.weight.pending().get()
                                    on:click=move |_| { actions.weight.dispatch(SetReleaseWeight { id, weight: shown() }); }>
                                    "Set weight"
                                </button>
                                <span class="flex-1"></span>
                                <button type="button" class=PRIMARY data-testid="release-confirm" disabled=!can_confirm on:click=move |_| asking.set(Some("confirm"))>"Confirm release"</button>
                                <button type="button" class=BUTTON data-testid="release-rollback" disabled=!can_roll_back on:click=move |_| asking.set(Some("rollback"))>"Roll back"</button>
                            </div>
                        })}
                        {move || asking.get().map(|what| {
                            let (text, label) = if what == "confirm" {
                                ("Move all traffic to the new side and remove the old services?", "Yes, confirm")
                            } else {
                                ("Move all traffic to the old side and remove the new services?", "Yes, roll back")
                            };
                            view! {
                                <div role="alertdialog" class="flex flex-wrap items-center gap-3 rounded-lg border border-amber-200 bg-amber-50 p-3 dark:border-amber-900 dark:bg-amber-950">
                                    <span class="flex-1">{text}</span>
                                    <button type="button" class=if what == "confirm" { PRIMARY } else { DANGER } data-testid="release-sure" on:click=move |_| {
                                        asking.set(None);
                                        if what == "confirm" {
                                            actions.confirm.dispatch(ConfirmRelease { id });
                                        } else {
                                            actions.unrelease.dispatch(RollbackRelease { id });
                                        }
                                    }>{label}</button>
                                    <button type="button" class=BUTTON on:click=move |_| asking.set(None)>"Cancel"</button>
                                </div>
                            }
                        })}
                    </div>
                </Card>
            }
        })
    }
}

#[component]
fn Versions(
    id: i64,
    versions: Vec<crate::api::app::VersionRow>,
    current: i64,
    operate: bool,
    rollback: ServerAction<RollbackApp>,
    ui: Ui,
) -> impl IntoView {
    view! {
        <Card title="Versions">
            <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="versions">
                {versions.into_iter().map(|v| {
                    let n = v.version;
                    let shown = move || ui.diff.get() == Some(n);
                    let asking = move || ui.rolling.get() == Some(n);
                    view! {
                        <li class="py-2" data-testid="version" data-version=n>
                            <div class="flex flex-wrap items-center gap-3">
                                <span class="font-semibold">{format!("v{n}")}</span>
                                <span>{v.action.clone()}{(!v.note.is_empty()).then(|| format!(" {}", v.note))}</span>
                                <span class="text-slate-500">{format!("{} · {}", v.created_by, format::date_utc(v.created_at))}</span>
                                {(n == current).then(|| view! { <span class="rounded bg-sky-100 px-1.5 text-xs text-sky-800 dark:bg-sky-900 dark:text-sky-100">"current"</span> })}
                                <span class="flex-1"></span>
                                {(n > 1).then(|| view! {
                                    <button type="button" class=BUTTON data-testid="show-diff" aria-expanded=move || shown().to_string()
                                        on:click=move |_| ui.diff.set(if ui.diff.get_untracked() == Some(n) { None } else { Some(n) })>"Changes"</button>
                                })}
                                {(operate && n != current).then(|| view! {
                                    <button type="button" class=BUTTON data-testid="rollback" on:click=move |_| ui.rolling.set(Some(n))>"Roll back to this"</button>
                                })}
                            </div>
                            {move || asking().then(|| view! {
                                <div role="alertdialog" aria-label=format!("Roll back to version {n}") data-testid="rollback-confirm"
                                    class="mt-2 flex flex-wrap items-center gap-3 rounded-lg border border-amber-200 bg-amber-50 p-3 dark:border-amber-900 dark:bg-amber-950">
                                    <span class="flex-1">{format!("Roll back to version {n}? Berth deploys its template and variables as a new version; the running tasks are replaced.")}</span>
                                    <button type="button" class=PRIMARY data-testid="rollback-yes" on:click=move |_| {
                                        ui.rolling.set(None);
                                        rollback.dispatch(RollbackApp { id, version: n });
                                    }>{format!("Roll back to v{n}")}</button>
                                    <button type="button" class=BUTTON on:click=move |_| ui.rolling.set(None)>"Cancel"</button>
                                </div>
                            })}
                            {move || shown().then(|| view! { <VersionDiff id version=n ui /> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Card>
    }
}

/// The changes a version made to the one before it, under its row; fetched once and kept while the
/// page refreshes.
#[component]
fn VersionDiff(id: i64, version: i64, ui: Ui) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    if ui.diffs.with_untracked(|d| !d.contains_key(&version)) {
        leptos::task::spawn_local(async move {
            match app_diff(id, version - 1, version).await {
                Ok(lines) => ui.diffs.update(|d| {
                    d.insert(version, lines);
                }),
                Err(e) => error.set(Some(e.display())),
            }
        });
    }
    move || {
        if let Some(e) = error.get() {
            return view! { <ErrorBanner message=e /> }.into_any();
        }
        ui.diffs.with(|d| d.get(&version).cloned()).map(|lines| view! {
            <pre class="mt-2 overflow-x-auto rounded-md bg-slate-50 p-3 text-xs dark:bg-slate-950" data-testid="diff">
                {lines.into_iter().map(|l| {
                    let class = match l.tag.as_str() { "+" => "text-emerald-700 dark:text-emerald-300", "-" => "text-red-700 dark:text-red-300", _ => "text-slate-500" };
                    view! { <div class=class>{format!("{} {}", l.tag, l.text)}</div> }
                }).collect_view()}
            </pre>
        }.into_any()).unwrap_or_else(|| view! { <p class="mt-2 text-xs text-slate-500">"Loading the changes…"</p> }.into_any())
    }
}
