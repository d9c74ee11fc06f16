//! The operation history: every attempt to change something (console, API, Berth itself) with who,
//! when, from where, what, on what, the parameters (secrets redacted), the outcome and how long it
//! took. Filters, word search, paging, CSV export; admins verify the hash chain here.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::observe::{get_history, history_csv, verify_history, ChainRow, HistoryQuery, OperationRow};
use crate::components::observe::save_file;
use crate::components::ui::{go_to, Card, ErrorBanner, PageHeader, StatusBadge, BUTTON, INPUT, PRIMARY};
use crate::format;

/// The history's view in the address (`/history?q=…&actor=…&action=…&outcome=…&hours=…&before=…`), so
/// a filtered view can be shared, reloaded and gone back to.
fn href(h: &HistoryQuery) -> String {
    let mut parts = Vec::new();
    for (key, value) in [("q", &h.q), ("actor", &h.actor), ("action", &h.action), ("outcome", &h.outcome)] {
        if !value.is_empty() {
            parts.push(format!("{key}={}", crate::components::table::encode(value)));
        }
    }
    if let Some(c) = h.cluster {
        parts.push(format!("cluster={c}"));
    }
    if h.hours > 0 {
        parts.push(format!("hours={}", h.hours));
    }
    if let Some(b) = h.before {
        parts.push(format!("before={b}"));
    }
    if parts.is_empty() {
        "/history".into()
    } else {
        format!("/history?{}", parts.join("&"))
    }
}

#[component]
pub fn History() -> impl IntoView {
    let map = leptos_router::hooks::use_query_map();
    let query = Memo::new(move |_| {
        map.with(|m| {
            let text = |k: &str| m.get(k).unwrap_or_default();
            let number = |k: &str| m.get(k).and_then(|v| v.parse::<i64>().ok());
            HistoryQuery {
                q: text("q"),
                actor: text("actor"),
                action: text("action"),
                outcome: text("outcome"),
                cluster: number("cluster"),
                hours: number("hours").unwrap_or(0),
                before: number("before"),
            }
        })
    });
    let navigate = leptos_router::hooks::use_navigate();
    let go = Callback::new(move |h: HistoryQuery| navigate(&href(&h), Default::default()));
    // The search field; applied on submit (the menus apply at once).
    let q = RwSignal::new(query.get_untracked().q);
    let page = crate::codec::resource(
        move || query.get(),
        |h| get_history(h.q, h.actor, h.action, h.outcome, h.cluster, h.hours, h.before),
    );
    let verify = Action::new(|_: &()| verify_history());
    let error = RwSignal::new(None::<String>);
    let csv = move |_| {
        let h = query.get_untracked();
        leptos::task::spawn_local(async move {
            match history_csv(h.q, h.actor, h.action, h.outcome, h.cluster, h.hours).await {
                Ok(text) => save_file("operations.csv", "text/csv", &text),
                Err(e) => error.set(Some(e.display())),
            }
        });
    };
    let set = move |f: fn(&mut HistoryQuery, String), v: String| {
        let mut h = query.get_untracked();
        f(&mut h, v);
        h.before = None;
        go.run(h);
    };
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => {
                    let next = (p.rows.len() == 100).then(|| p.rows.last().map(|r| r.id)).flatten();
                    let actors = p.actors.clone();
                    let actions = p.actions.clone();
                    let can_verify = p.can_verify;
                    view! {
                        <div class="flex flex-wrap items-end gap-3">
                            <label class="text-sm">"Who"
                                <select class=INPUT data-testid="filter-actor" on:change=move |ev| set(|h, v| h.actor = v, event_target_value(&ev))>
                                    <option value="" selected=move || query.with(|h| h.actor.is_empty())>"Anyone"</option>
                                    {actors.into_iter().map(|a| { let (v, value) = (a.clone(), a.clone()); view! { <option value=value selected=move || query.with(|h| h.actor == v)>{a}</option> } }).collect_view()}
                                </select>
                            </label>
                            <label class="text-sm">"Action"
                                <select class=INPUT data-testid="filter-action" on:change=move |ev| set(|h, v| h.action = v, event_target_value(&ev))>
                                    <option value="" selected=move || query.with(|h| h.action.is_empty())>"Any"</option>
                                    {prefixes(&actions).into_iter().map(|a| { let (v, value, label) = (a.clone(), a.clone(), format!("{a}*")); view! { <option value=value selected=move || query.with(|h| h.action == v)>{label}</option> } }).collect_view()}
                                    {actions.into_iter().map(|a| { let (v, value) = (a.clone(), a.clone()); view! { <option value=value selected=move || query.with(|h| h.action == v)>{a}</option> } }).collect_view()}
                                </select>
                            </label>
                            <label class="text-sm">"Outcome"
                                <select class=INPUT data-testid="filter-outcome" on:change=move |ev| set(|h, v| h.outcome = v, event_target_value(&ev))>
                                    {["", "success", "failure", "denied", "throttled"].into_iter().map(|o| view! {
                                        <option value=o selected=move || query.with(|h| h.outcome == o)>{if o.is_empty() { "Any" } else { o }}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label class="text-sm">"When"
                                <select class=INPUT data-testid="filter-hours" on:change=move |ev| set(|h, v| h.hours = v.parse().unwrap_or(0), event_target_value(&ev))>
                                    {[(0, "Any time"), (1, "Last hour"), (24, "Last 24 hours"), (168, "Last 7 days")].into_iter().map(|(n, label)| view! {
                                        <option value=n.to_string() selected=move || query.with(|h| h.hours == n)>{label}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                        </div>
                        <Rows rows=p.rows.clone() />
                        <div class="flex items-center gap-2">
                            {move || query.with(|h| h.before.is_some()).then(|| view! {
                                <button type="button" class=BUTTON on:click=move |_| go.run(HistoryQuery { before: None, ..query.get_untracked() })>"Newest"</button>
                            })}
                            {next.map(|id| view! {
                                <button type="button" class=BUTTON data-testid="older" on:click=move |_| go.run(HistoryQuery { before: Some(id), ..query.get_untracked() })>"Older"</button>
                            })}
                        </div>
                        {can_verify.then(|| view! { <Verify verify /> })}
                    }
                    .into_any()
                }
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
        <Title text="Operation history · Berth" />
        <div class="space-y-6">
            <PageHeader title="Operation history" subtitle="Every change anyone attempted, with its outcome. Append-only and hash-chained.">
                <button type="button" class=BUTTON data-testid="export-csv" on:click=csv>"Export CSV"</button>
            </PageHeader>
            <form class="flex gap-2" on:submit=move |ev| { ev.prevent_default(); set(|h, v| h.q = v, q.get_untracked()); }>
                <input type="search" class=INPUT placeholder="Search actions, targets, parameters, people, errors"
                    aria-label="Search the history" data-testid="history-search"
                    prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev)) />
                <button type="submit" class=PRIMARY data-testid="history-search-go">"Search"</button>
            </form>
            {move || error.get().map(|e| view! { <ErrorBanner message=e testid="csv-error" /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
        </div>
    }
}

/// `app.deploy`, `app.scale` → `app.` (the prefixes offered as "app.*").
fn prefixes(actions: &[String]) -> Vec<String> {
    let mut out: Vec<String> = actions.iter().filter_map(|a| a.split_once('.').map(|(p, _)| format!("{p}."))).collect();
    out.sort();
    out.dedup();
    out
}

#[component]
fn Rows(rows: Vec<OperationRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="history-empty">"No operations match."</p> }
            .into_any();
    }
    view! {
        <div tabindex="0" role="region" aria-label="Operations" class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-left text-sm" data-testid="history">
                <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50">
                    <tr>
                        <th class="px-3 py-2">"When"</th><th class="px-3 py-2">"Who"</th><th class="px-3 py-2">"From"</th>
                        <th class="px-3 py-2">"Action"</th><th class="px-3 py-2">"Target"</th><th class="px-3 py-2">"Outcome"</th>
                        <th class="px-3 py-2">"Took"</th><th class="px-3 py-2">"Parameters / error"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {rows.into_iter().map(|r| {
                        let outcome = match r.outcome.as_str() { "success" => "succeeded", "failure" => "failed", o => o }.to_string();
                        view! {
                            <tr data-testid="operation-row" data-action=r.action.clone() data-outcome=r.outcome.clone()>
                                <td class="whitespace-nowrap px-3 py-2 tabular-nums text-slate-500">{format::date_utc(r.started_at)}</td>
                                <td class="px-3 py-2">{r.actor.clone()}<span class="block text-xs text-slate-500">{r.channel.clone()}</span></td>
                                <td class="px-3 py-2 font-mono text-xs">{r.source.clone()}</td>
                                <td class="px-3 py-2 font-mono text-xs">{r.action.clone()}</td>
                                <td class="px-3 py-2">{r.target.clone()}</td>
                                <td class="px-3 py-2"><StatusBadge status=outcome /></td>
                                <td class="px-3 py-2 tabular-nums">{format::duration(r.duration_ms)}</td>
                                <td class="max-w-md px-3 py-2">
                                    <code class="block truncate text-xs" title=r.params.clone()>{r.params.clone()}</code>
                                    {(!r.error.is_empty()).then(|| view! { <span class="block text-xs text-red-600 dark:text-red-400">{r.error.clone()}</span> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Verify(verify: Action<(), Result<ChainRow, crate::error::AppError>>) -> impl IntoView {
    view! {
        <Card title="Integrity">
            <div class="space-y-2 text-sm">
                <p class="text-slate-600 dark:text-slate-300">
                    "Each row's hash covers its fields and the previous row's hash. Verifying recomputes the whole chain; "
                    "the same check runs from the command line with "<code>"berth verify-history"</code>"."
                </p>
                <button type="button" class=BUTTON data-testid="verify" disabled=move || verify.pending().get() on:click=move |_| { verify.dispatch(()); }>
                    {move || if verify.pending().get() { "Verifying…" } else { "Verify the chain" }}
                </button>
                {move || verify.value().get().map(|r| match r {
                    Ok(c) if c.broken_id.is_none() => view! {
                        <p class="text-emerald-700 dark:text-emerald-300" data-testid="verify-result" data-intact="true">
                            {format!("Intact: {} rows; head row {} hash {}", c.rows, c.head_id, c.head_hash)}
                        </p>
                    }.into_any(),
                    Ok(c) => view! {
                        <p class="font-semibold text-red-700 dark:text-red-300" data-testid="verify-result" data-intact="false">
                            {format!("Tampered: row {}: {}", c.broken_id.unwrap_or_default(), c.broken_reason)}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <ErrorBanner message=e.display() /> }.into_any(),
                })}
            </div>
        </Card>
    }
}
