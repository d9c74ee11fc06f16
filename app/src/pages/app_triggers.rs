//! An app's Triggers tab: the URLs CI calls to redeploy, scale or roll the app back. A form makes
//! one (name, action — the service and replicas of a scale, fetching every image for a redeploy —
//! and how calls authenticate); the secret is shown once, after creation and after each rotation.
//! Each trigger lists its URL, what it does, its newest call, Rotate and Revoke (revoking asks
//! first), copy-paste snippets (`curl` or a signing script, GitHub Actions, GitLab CI) and its
//! newest calls with their outcome, status, time, source and job.
//!
//! The list refreshes every 5 s; the form, the confirmation, the secret shown and which snippets
//! or calls are open live outside the refreshing part, so a refresh never rebuilds them.

use std::collections::BTreeSet;
use std::time::Duration;

use leptos::prelude::*;

use crate::api::app::AppPage;
use crate::api::trigger::{
    get_triggers, github_snippet, gitlab_snippet, shell_snippet, snippet_body, CreateTrigger, IssuedTrigger,
    RevokeTrigger, RotateTrigger, TriggerCallRow, TriggerRow, TriggersView,
};
use crate::components::ui::{copy_text, ticker, Card, ErrorBanner, StatusBadge, BUTTON, DANGER, INPUT, PRIMARY};
use crate::error::AppError;
use crate::format;

/// What the tab needs of the app page: the app, whether the caller operates it, its services.
#[derive(Clone, Debug, PartialEq)]
struct Subject {
    app: i64,
    operate: bool,
    services: Vec<String>,
}

/// The Triggers tab, shown when `tab` is `triggers`; it follows the app page's own data.
#[component]
pub fn AppTriggers(page: crate::codec::Res<Result<AppPage, AppError>>, tab: Memo<&'static str>) -> impl IntoView {
    let subject = RwSignal::new(None::<Subject>);
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            let next = Subject {
                app: p.app.id,
                operate: p.access.operate,
                services: p.services.iter().filter(|s| !s.global).map(|s| s.name.clone()).collect(),
            };
            if subject.with_untracked(|s| s.as_ref() != Some(&next)) {
                subject.set(Some(next));
            }
        }
    });
    move || (tab.get() == "triggers").then(|| subject.get().map(|s| view! { <Triggers s /> }))
}

/// Which trigger's snippets or calls are open: (trigger id, "snippets" | "calls").
type Open = RwSignal<BTreeSet<(i64, &'static str)>>;

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateTrigger>,
    rotate: ServerAction<RotateTrigger>,
    revoke: ServerAction<RevokeTrigger>,
}

#[component]
fn Triggers(s: Subject) -> impl IntoView {
    let app = s.app;
    let actions = Actions { create: ServerAction::new(), rotate: ServerAction::new(), revoke: ServerAction::new() };
    crate::toast_on_success!(actions.create, "Trigger created: copy its secret now");
    crate::toast_on_success!(actions.rotate, "New secret: the old one works for another 24 hours");
    crate::toast_on_success!(actions.revoke, "Trigger revoked: its URL answers 404 from now on");
    let shown = RwSignal::new(None::<IssuedTrigger>);
    let confirming = RwSignal::new(None::<(i64, String)>);
    let open: Open = RwSignal::new(BTreeSet::new());
    // The console's own address for the snippets (the browser knows it; the server renders the path).
    let origin = RwSignal::new(String::new());
    Effect::new(move |_| origin.set(window().location().origin().unwrap_or_default()));
    Effect::new(move |_| {
        if let Some(Ok(issued)) = actions.create.value().get() {
            shown.set(Some(issued));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(issued)) = actions.rotate.value().get() {
            shown.set(Some(issued));
        }
    });
    Effect::new(move |_| {
        if actions.revoke.value().get().is_some() {
            confirming.set(None);
        }
    });
    let tick = ticker(Duration::from_secs(5));
    let list = crate::codec::resource(
        move || {
            (
                app,
                tick.get(),
                actions.create.version().get(),
                actions.rotate.version().get(),
                actions.revoke.version().get(),
            )
        },
        |(app, ..)| get_triggers(app),
    );
    let create_error = move || actions.create.value().get().and_then(Result::err);
    let other_error = move || {
        actions
            .rotate
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| actions.revoke.value().get().and_then(Result::err))
    };
    let body = move || {
        Suspend::new(async move {
            match list.await {
                Ok(v) => view! { <List v operate=s.operate actions confirming open origin /> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="triggers-error" /> }.into_any(),
            }
        })
    };
    view! {
        <Card title="Triggers">
            <div class="space-y-4" data-testid="triggers">
                <p class="text-sm text-slate-500">
                    "URLs your CI calls to redeploy, scale or roll back this app. Each does one thing, takes POST only, at most 10 calls a minute, and proves it holds the secret with a Standard Webhooks signature or the secret in a header — never in the URL. Each call is a job and a row in the History by the trigger's name."
                </p>
                {move || shown.get().map(|i| {
                    let name = i.trigger.name.clone();
                    view! {
                        <div data-testid="trigger-issued" data-name=name>
                            <ShownSecret issued=i />
                        </div>
                    }
                })}
                {move || other_error().map(|e| view! { <ErrorBanner message=e.display() testid="trigger-action-error" /> })}
                {move || confirming.get().map(|(id, name)| view! {
                    <ActionForm action=actions.revoke>
                        <div role="alertdialog" aria-label="Revoke the trigger" class="flex flex-wrap items-center gap-3 rounded-xl border border-red-200 bg-red-50 p-4 text-sm dark:border-red-900 dark:bg-red-950">
                            <input type="hidden" name="app" value=app />
                            <input type="hidden" name="trigger" value=id />
                            <span class="min-w-0 flex-1">{format!("Revoke {name}? Its URL answers 404 from now on; CI still calling it fails.")}</span>
                            <button type="submit" class=DANGER data-testid="trigger-revoke-confirm">"Revoke"</button>
                            <button type="button" class=BUTTON on:click=move |_| confirming.set(None)>"Cancel"</button>
                        </div>
                    </ActionForm>
                })}
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
                {s.operate.then(|| view! { <CreateForm app services=s.services.clone() create=actions.create error=Signal::derive(create_error) /> })}
            </div>
        </Card>
    }
}

/// The secret of a trigger just made or rotated, once, with the URL.
#[component]
fn ShownSecret(issued: IssuedTrigger) -> impl IntoView {
    let copied = RwSignal::new(false);
    let secret = issued.secret.clone();
    view! {
        <div class="rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950">
            <p class="font-medium">{format!("The secret of {}: copy it into your CI's secrets as BERTH_TRIGGER_SECRET now; it is not shown again.", issued.trigger.name)}</p>
            <div class="mt-1 flex items-start gap-2">
                <code class="block min-w-0 flex-1 break-all font-mono" data-testid="trigger-secret">{issued.secret.clone()}</code>
                <button type="button" class=BUTTON data-testid="copy-secret" on:click=move |_| {
                    copy_text(&secret);
                    copied.set(true);
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
        </div>
    }
}

#[component]
fn CreateForm(
    app: i64,
    services: Vec<String>,
    create: ServerAction<CreateTrigger>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let action = RwSignal::new("redeploy".to_string());
    let field = move |f: &'static str| move || error.get().and_then(|e| e.for_field(f));
    view! {
        <ActionForm action=create attr:data-testid="trigger-form">
            <input type="hidden" name="app" value=app />
            <h3 class="mb-2 text-sm font-semibold">"New trigger"</h3>
            <div class="grid gap-3 sm:grid-cols-3 sm:items-start">
                <label class="block space-y-1">
                    <span class="text-sm font-medium">"Name"</span>
                    <input name="name" class=INPUT placeholder="deploy-from-ci" data-testid="trigger-name" />
                    <span class="block text-xs text-red-600 dark:text-red-400" data-testid="error-trigger-name">{field("name")}</span>
                </label>
                <label class="block space-y-1">
                    <span class="text-sm font-medium">"Action"</span>
                    <select name="action" class=INPUT data-testid="trigger-action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="redeploy">"Redeploy"</option>
                        <option value="scale">"Scale a service"</option>
                        <option value="rollback">"Roll back to the previous version"</option>
                    </select>
                    <span class="block text-xs text-red-600 dark:text-red-400">{field("action")}</span>
                </label>
                <label class="block space-y-1">
                    <span class="text-sm font-medium">"Calls prove the secret with"</span>
                    <select name="auth" class=INPUT data-testid="trigger-auth">
                        <option value="signature">"A Standard Webhooks signature"</option>
                        <option value="header">"The secret in a header (simple CI)"</option>
                    </select>
                    <span class="block text-xs text-red-600 dark:text-red-400">{field("auth")}</span>
                </label>
            </div>
            {move || (action.get() == "scale").then(|| {
                let services = services.clone();
                view! {
                    <div class="mt-3 grid gap-3 sm:grid-cols-3 sm:items-start">
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Service"</span>
                            <select name="service" class=INPUT data-testid="trigger-service">
                                {services.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                            </select>
                            <span class="block text-xs text-red-600 dark:text-red-400">{field("service")}</span>
                        </label>
                        <label class="block space-y-1">
                            <span class="text-sm font-medium">"Replicas"</span>
                            <input name="replicas" type="number" min="0" max="1000" value="1" class=INPUT data-testid="trigger-replicas" />
                            <span class="block text-xs text-red-600 dark:text-red-400">{field("replicas")}</span>
                        </label>
                        <label class="flex items-center gap-2 text-sm sm:mt-7">
                            <input type="checkbox" name="replicas_from_body" data-testid="trigger-replicas-from-body" />
                            "A call may say how many ("<code>"{\"replicas\": N}"</code>")"
                        </label>
                    </div>
                }
            })}
            {move || (action.get() == "redeploy").then(|| view! {
                <label class="mt-3 flex items-center gap-2 text-sm">
                    <input type="checkbox" name="latest_image" data-testid="trigger-latest-image" />
                    "Fetch the newest image of every service's tag (else only services labelled berth.latest_image)"
                </label>
            })}
            {move || error.get().filter(|e| e.field.is_none() && e.fields.is_none()).map(|e| view! { <ErrorBanner message=e.display() testid="trigger-create-error" /> })}
            <div class="mt-3"><button type="submit" class=PRIMARY data-testid="trigger-create">"Create trigger"</button></div>
        </ActionForm>
    }
}

#[component]
fn List(
    v: TriggersView,
    operate: bool,
    actions: Actions,
    confirming: RwSignal<Option<(i64, String)>>,
    open: Open,
    origin: RwSignal<String>,
) -> impl IntoView {
    if v.triggers.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="triggers-none">"No triggers yet."</p> }
            .into_any();
    }
    let now = v.now;
    view! {
        <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="trigger-list">
            {v.triggers.into_iter().map(|t| view! { <Row t now operate actions confirming open origin /> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Row(
    t: TriggerRow,
    now: i64,
    operate: bool,
    actions: Actions,
    confirming: RwSignal<Option<(i64, String)>>,
    open: Open,
    origin: RwSignal<String>,
) -> impl IntoView {
    let (id, app, name) = (t.id, t.app_id, t.name.clone());
    let path = t.path.clone();
    let last = t.calls.first().cloned();
    let auth = if t.auth == "header" { "secret in a header" } else { "Standard Webhooks signature" };
    let rotated = (t.previous_until > now).then(|| {
        format!(
            "rotated {}; the old secret works until {}",
            format::ago(t.rotated_at, now),
            format::date_utc(t.previous_until)
        )
    });
    let toggle = move |what: &'static str| {
        move |_| {
            open.update(|o| {
                if !o.remove(&(id, what)) {
                    o.insert((id, what));
                }
            })
        }
    };
    let is_open = move |what: &'static str| Signal::derive(move || open.with(|o| o.contains(&(id, what))));
    let (snippets, calls) = (is_open("snippets"), is_open("calls"));
    let trigger = t.clone();
    view! {
        <li class="space-y-2 py-3 text-sm" data-testid="trigger-row" data-name=t.name.clone() data-action=t.action.clone()>
            <div class="flex flex-wrap items-center gap-2">
                <span class="font-semibold">{t.name.clone()}</span>
                <span class="text-slate-600 dark:text-slate-300">{t.summary.clone()}</span>
                <span class="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300">{auth}</span>
                <span class="flex-1"></span>
                {operate.then(|| {
                    let name = name.clone();
                    view! {
                        <button type="button" class=BUTTON data-testid="trigger-rotate" on:click=move |_| { actions.rotate.dispatch(RotateTrigger { app, trigger: id }); }>"Rotate"</button>
                        <button type="button" class=BUTTON data-testid="trigger-revoke" on:click=move |_| confirming.set(Some((id, name.clone())))>"Revoke"</button>
                    }
                })}
            </div>
            <code class="block break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs dark:bg-slate-900" data-testid="trigger-url">
                "POST "{move || format!("{}{path}", origin.get())}
            </code>
            <p class="text-xs text-slate-500">
                {format!("Created by {} {}", t.created_by, format::ago(t.created_at, now))}
                {rotated.map(|r| format!(" · {r}"))}
            </p>
            <p class="flex flex-wrap items-center gap-2 text-xs" data-testid="trigger-last-call">
                <span class="text-slate-500">"Last call:"</span>
                {match last {
                    Some(c) => view! {
                        <StatusBadge status=c.outcome.clone() testid="trigger-last-outcome" />
                        <span>{format!("HTTP {} · {}", c.status, format::ago(c.at, now))}</span>
                    }.into_any(),
                    None => view! { <span class="text-slate-500">"never called"</span> }.into_any(),
                }}
            </p>
            <div class="flex flex-wrap gap-2">
                <button type="button" class=BUTTON aria-expanded=move || snippets.get().to_string() data-testid="trigger-snippets-toggle" on:click=toggle("snippets")>"Snippets"</button>
                <button type="button" class=BUTTON aria-expanded=move || calls.get().to_string() data-testid="trigger-calls-toggle" on:click=toggle("calls")>{format!("Calls ({})", t.calls.len())}</button>
            </div>
            {move || snippets.get().then(|| view! { <Snippets t=trigger.clone() origin /> })}
            {
                let list = t.calls.clone();
                move || calls.get().then(|| view! { <Calls calls=list.clone() now /> })
            }
        </li>
    }
}

#[component]
fn Snippets(t: TriggerRow, origin: RwSignal<String>) -> impl IntoView {
    let t = StoredValue::new(t);
    let shell =
        move || t.with_value(|t| shell_snippet(&format!("{}{}", origin.get(), t.path), &t.auth, &snippet_body(t)));
    let name = t.with_value(|t| t.name.clone());
    let (gh_name, gl_name) = (name.clone(), name);
    view! {
        <div class="space-y-3" data-testid="trigger-snippets">
            <p class="text-xs text-slate-500">"Each reads the secret from BERTH_TRIGGER_SECRET; keep it in your CI's secrets."</p>
            <Snippet title="Shell (curl)" text=Signal::derive(shell) testid="snippet-shell" />
            <Snippet title="GitHub Actions step" text=Signal::derive(move || github_snippet(&gh_name, &shell())) testid="snippet-github" />
            <Snippet title="GitLab CI job" text=Signal::derive(move || gitlab_snippet(&gl_name, &shell())) testid="snippet-gitlab" />
        </div>
    }
}

#[component]
fn Snippet(title: &'static str, text: Signal<String>, testid: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <div>
            <div class="mb-1 flex items-center gap-2">
                <span class="text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</span>
                <button type="button" class=BUTTON on:click=move |_| {
                    copy_text(&text.get_untracked());
                    copied.set(true);
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
            <pre tabindex="0" class="overflow-x-auto rounded bg-slate-900 p-3 font-mono text-xs text-slate-100 dark:bg-slate-950" data-testid=testid>{move || text.get()}</pre>
        </div>
    }
}

#[component]
fn Calls(calls: Vec<TriggerCallRow>, now: i64) -> impl IntoView {
    if calls.is_empty() {
        return view! { <p class="text-xs text-slate-500" data-testid="trigger-calls-none">"No calls yet."</p> }
            .into_any();
    }
    view! {
        <div tabindex="0" role="region" aria-label="Calls" class="overflow-x-auto">
            <table class="min-w-full text-xs" data-testid="trigger-calls">
                <thead class="text-left uppercase tracking-wide text-slate-500">
                    <tr>
                        <th class="py-1 pr-3">"When"</th>
                        <th class="py-1 pr-3">"Outcome"</th>
                        <th class="py-1 pr-3">"Status"</th>
                        <th class="py-1 pr-3">"From"</th>
                        <th class="py-1 pr-3">"Job"</th>
                        <th class="py-1">"Why"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {calls.into_iter().map(|c| view! {
                        <tr data-testid="trigger-call" data-outcome=c.outcome.clone()>
                            <td class="whitespace-nowrap py-1 pr-3" title=format::date_utc(c.at)>{format::ago(c.at, now)}</td>
                            <td class="py-1 pr-3">{c.outcome.clone()}</td>
                            <td class="py-1 pr-3">{c.status}</td>
                            <td class="py-1 pr-3 font-mono">{c.source.clone()}</td>
                            <td class="py-1 pr-3">{c.job.map(|j| view! { <a class="text-sky-700 underline dark:text-sky-300" href=format!("/jobs/{j}") data-testid="trigger-call-job">{format!("#{j}")}</a> })}</td>
                            <td class="py-1 text-slate-500">{c.message.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
