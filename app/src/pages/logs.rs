//! A cluster's collected logs: search every line Berth keeps — also of containers and apps that are
//! gone — by words, app, service, node and time; page back through older lines; download them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::cluster::get_cluster;
use crate::api::observe::{logs_text, search_logs, LogRow};
use crate::components::observe::save_file;
use crate::components::ui::{go_to, ErrorBanner, PageHeader, BUTTON, INPUT, PRIMARY};
use crate::format;

/// What the form asks for; applied on submit.
#[derive(Clone, Debug, Default, PartialEq)]
struct Search {
    app: String,
    service: String,
    node: Option<i64>,
    q: String,
    hours: i64,
    before: Option<i64>,
}

#[component]
pub fn ClusterLogs() -> impl IntoView {
    let params = use_params_map();
    let cluster = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let search = RwSignal::new(Search { hours: 24, ..Search::default() });
    let form = RwSignal::new(Search { hours: 24, ..Search::default() });
    // The node menu is filled in the browser only, so the server's page and the hydrated one agree.
    let detail = LocalResource::new(move || get_cluster(cluster()));
    let lines = crate::codec::resource(
        move || (cluster(), search.get()),
        |(c, s)| search_logs(c, s.app, s.service, s.node, s.q, s.hours, s.before),
    );
    let error = RwSignal::new(None::<String>);
    let download = move |_| {
        let (c, s) = (cluster(), search.get_untracked());
        leptos::task::spawn_local(async move {
            match logs_text(c, s.app, s.service, String::new(), s.q).await {
                Ok(text) => save_file("logs.txt", "text/plain", &text),
                Err(e) => error.set(Some(e.display())),
            }
        });
    };
    let nodes = move || detail.get().and_then(Result::ok).map(|d| d.nodes).unwrap_or_default();
    let results = move || {
        Suspend::new(async move {
            match lines.await {
                Ok(rows) => view! { <Results rows search /> }.into_any(),
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
        <Title text="Logs · Berth" />
        <div class="space-y-6">
            <PageHeader title="Logs" subtitle="Every line collected from this cluster's containers, kept after they are gone until retention removes it.">
                <button type="button" class=BUTTON data-testid="logs-download" on:click=download>"Download"</button>
                <A href=move || format!("/clusters/{}", cluster()) attr:class=BUTTON>"Back to the cluster"</A>
            </PageHeader>
            <form class="flex flex-wrap items-end gap-3" data-testid="logs-form" on:submit=move |ev| {
                ev.prevent_default();
                search.set(Search { before: None, ..form.get_untracked() });
            }>
                <label class="text-sm">"Words"
                    <input type="search" class=INPUT data-testid="logs-q" placeholder="error timeout"
                        prop:value=move || form.with(|f| f.q.clone()) on:input=move |ev| form.update(|f| f.q = event_target_value(&ev)) />
                </label>
                <label class="text-sm">"App"
                    <input class=INPUT data-testid="logs-app" placeholder="any"
                        prop:value=move || form.with(|f| f.app.clone()) on:input=move |ev| form.update(|f| f.app = event_target_value(&ev)) />
                </label>
                <label class="text-sm">"Service (full name)"
                    <input class=INPUT data-testid="logs-service" placeholder="any, e.g. shop_web"
                        prop:value=move || form.with(|f| f.service.clone()) on:input=move |ev| form.update(|f| f.service = event_target_value(&ev)) />
                </label>
                <label class="text-sm">"Node"
                    <select class=INPUT data-testid="logs-node" on:change=move |ev| form.update(|f| f.node = event_target_value(&ev).parse().ok())>
                        <option value="">"Any"</option>
                        {move || nodes().into_iter().map(|n| view! { <option value=n.id.to_string()>{n.name}</option> }).collect_view()}
                    </select>
                </label>
                <label class="text-sm">"Since"
                    <select class=INPUT data-testid="logs-hours" on:change=move |ev| form.update(|f| f.hours = event_target_value(&ev).parse().unwrap_or(0))>
                        {[(1, "1 hour ago"), (24, "24 hours ago"), (168, "7 days ago"), (0, "the start")].into_iter().map(|(h, label)| view! {
                            <option value=h.to_string() selected=move || form.with(|f| f.hours == h)>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class=PRIMARY data-testid="logs-go">"Search"</button>
            </form>
            {move || error.get().map(|e| view! { <ErrorBanner message=e /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Searching…"</p> }>{results}</Transition>
        </div>
    }
}

#[component]
fn Results(rows: Vec<LogRow>, search: RwSignal<Search>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="logs-empty">"No lines match."</p> }.into_any();
    }
    let oldest = rows.iter().map(|r| r.id).min();
    let full = rows.len() == 500;
    view! {
        <p class="text-xs text-slate-500" data-testid="logs-found">{format!("{} lines, oldest first", rows.len())}</p>
        <div class="max-h-[36rem] overflow-auto rounded-lg bg-slate-950 p-3 font-mono text-xs leading-5 text-slate-100" data-testid="logs-results">
            {rows.into_iter().map(|l| view! {
                <div class="flex gap-3 whitespace-pre-wrap break-all" data-testid="logs-line">
                    <span class="shrink-0 text-slate-500">{format::date_utc(l.ts / 1_000_000).trim_end_matches(" UTC").to_string()}</span>
                    <span class="shrink-0 text-sky-300" title=l.container_id.clone()>{l.task.clone()}</span>
                    <span class=if l.stream == "stderr" { "text-amber-200" } else { "" }>{l.line.clone()}</span>
                </div>
            }).collect_view()}
        </div>
        {(full && oldest.is_some()).then(|| view! {
            <button type="button" class=BUTTON data-testid="logs-older" on:click=move |_| search.update(|s| s.before = oldest)>"Older lines"</button>
        })}
    }
    .into_any()
}
