//! Read-only dashboards: a cluster's for anyone who may see it (with its shared links for those who
//! may change it), and the same dashboard opened from a shared link without an account.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::account::SELECT;
use crate::api::cluster::get_cluster;
use crate::api::ram::{get_dashboard, get_shared_dashboard, get_shares, CreateShare, RevokeShare};
use crate::components::dashboard::DashboardView;
use crate::components::ui::{
    full_address, go_to, ticker, Card, ErrorBanner, Logo, PageHeader, ShownOnce, StatusBadge, BUTTON, INPUT, PRIMARY,
};
use crate::format;

const REFRESH: Duration = Duration::from_secs(5);

#[component]
pub fn ClusterDashboard() -> impl IntoView {
    let page = crate::components::ui::page_id("/clusters/", "id");
    let id = move || page.get();
    let tick = ticker(REFRESH);
    let detail = crate::codec::resource(move || (id(), tick.get()), |(id, _)| get_dashboard(id));
    let body = move || {
        Suspend::new(async move {
            match detail.await {
                Ok(d) => view! {
                    <PageHeader title=format!("{} dashboard", d.cluster.name) subtitle="Read only; refreshes every 5 seconds.">
                        <A href=format!("/clusters/{}", d.cluster.id) attr:class=BUTTON>"Open cluster"</A>
                    </PageHeader>
                    <DashboardView d />
                }
                .into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() testid="dashboard-error" /> }.into_any()
                }
            }
        })
    };
    // The shared links are loaded once (not on every refresh) and only shown to those who may manage them.
    let manage =
        crate::codec::resource(id, |id| async move { get_cluster(id).await.map(|d| d.access.manage).unwrap_or(false) });
    view! {
        <Title text="Dashboard · Berth" />
        <div class="space-y-6">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            <Transition fallback=|| ()>{move || Suspend::new(async move {
                manage.await.then(|| view! { <Shares cluster=id() /> })
            })}</Transition>
        </div>
    }
}

/// Expiring read-only links to a dashboard, for people without an account.
#[component]
fn Shares(cluster: i64) -> impl IntoView {
    let create = ServerAction::<CreateShare>::new();
    let revoke = ServerAction::<RevokeShare>::new();
    let shares =
        crate::codec::resource(move || (create.version().get(), revoke.version().get()), move |_| get_shares(cluster));
    let error =
        move || create.value().get().and_then(Result::err).or_else(|| revoke.value().get().and_then(Result::err));
    let list = move || {
        Suspend::new(async move {
            let shares = shares.await.unwrap_or_default();
            let now = shares
                .iter()
                .map(|s| s.created_at)
                .max()
                .unwrap_or(0)
                .max(create.value().get_untracked().and_then(Result::ok).map_or(0, |i| i.expires_at - 1));
            view! {
                <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="shares">
                    {shares.into_iter().map(|s| {
                        let state = if s.revoked_at.is_some() { "revoked" } else if s.expires_at <= now { "expired" } else { "active" };
                        view! {
                            <li class="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="share" data-state=state>
                                <span>{if s.label.is_empty() { "Unnamed link".to_string() } else { s.label.clone() }}</span>
                                <span class="text-xs text-slate-500">{format!("by {} · until {}", s.created_by, format::date_utc(s.expires_at))}</span>
                                {if state == "active" {
                                    view! {
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="id" value=s.id />
                                            <button type="submit" class=BUTTON data-testid="revoke-share">"Revoke"</button>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! { <StatusBadge status=state /> }.into_any()
                                }}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
        })
    };
    view! {
        <Card title="Shared links">
            <p class="mb-3 text-sm text-slate-500">"Anyone with a link sees this dashboard, read only, until it expires or you revoke it."</p>
            {move || error().map(|e| view! { <ErrorBanner message=e.display() testid="share-error" /> })}
            {move || create.value().get().and_then(Result::ok).map(|i| view! {
                <ShownOnce note="The link (shown only now):" value=full_address(&i.secret) testid="share-link" />
            })}
            <Transition fallback=|| ()>{list}</Transition>
            <ActionForm action=create>
                <input type="hidden" name="cluster" value=cluster />
                <div class="mt-3 grid gap-2 sm:grid-cols-3 sm:items-end">
                    <input name="label" class=INPUT placeholder="Wall screen, 3rd floor" data-testid="share-label" />
                    <select name="hours" class=SELECT data-testid="share-hours">
                        <option value="24">"1 day"</option>
                        <option value="168">"1 week"</option>
                        <option value="720">"30 days"</option>
                        <option value="2160">"90 days"</option>
                    </select>
                    <button type="submit" class=PRIMARY data-testid="create-share">"Create link"</button>
                </div>
            </ActionForm>
        </Card>
    }
}

/// The dashboard a shared link opens: no console, no account, no controls.
#[component]
pub fn SharedDashboard() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let tick = ticker(REFRESH);
    let data = crate::codec::resource(move || (token(), tick.get()), |(token, _)| get_shared_dashboard(token));
    let body = move || {
        Suspend::new(async move {
            match data.await {
                Ok(d) => view! {
                    <PageHeader title=d.cluster.name.clone() subtitle="Shared dashboard · read only · refreshes every 5 seconds" />
                    <DashboardView d />
                }
                .into_any(),
                Err(e) => view! { <ErrorBanner message=e.message testid="share-invalid" /> }.into_any(),
            }
        })
    };
    view! {
        <Title text="Dashboard · Berth" />
        <div class="min-h-screen">
            <header class="flex h-14 items-center border-b border-slate-200 bg-white px-4 dark:border-slate-800 dark:bg-slate-900"><Logo /></header>
            <main class="mx-auto max-w-6xl space-y-6 p-4 sm:p-6">
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            </main>
        </div>
    }
}
