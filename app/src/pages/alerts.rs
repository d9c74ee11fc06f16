//! A cluster's alerts: the rules (metric thresholds, services below their desired replicas, nodes
//! down) with their webhooks, the alerts they fired with firing and resolved times and what the
//! webhook answered, and the cluster's events timeline.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::observe::{
    get_alert_subjects, get_alerts, AlertRuleRow, AlertsPage, CreateAlertRule, DeleteAlertRule, MuteAlertRule,
};
use crate::components::observe::EventsTimeline;
use crate::components::ui::{
    go_to, ticker, Card, ErrorBanner, PageHeader, StatusBadge, BUTTON, DANGER, INPUT, PRIMARY,
};
use crate::format;

#[component]
pub fn AlertsView() -> impl IntoView {
    let params = use_params_map();
    let cluster = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let create = ServerAction::<CreateAlertRule>::new();
    let delete = ServerAction::<DeleteAlertRule>::new();
    crate::toast_on_success!(create, "Alert rule saved");
    crate::toast_on_success!(delete, "Alert rule deleted");
    let mute = ServerAction::<MuteAlertRule>::new();
    crate::toast_on_success!(mute, "Notifications muted or resumed");
    let tick = ticker(Duration::from_secs(5));
    let page = crate::codec::resource(
        move || (cluster(), tick.get(), create.version().get() + delete.version().get() + mute.version().get()),
        |(c, _, _)| get_alerts(c),
    );
    let kind = RwSignal::new("metric".to_string());
    let scope = RwSignal::new("service".to_string());
    let channel = RwSignal::new("webhook".to_string());
    // The rule being edited in the form (none: the form adds a rule).
    let editing = RwSignal::new(None::<AlertRuleRow>);
    Effect::new(move |_| {
        if let Some(r) = editing.get() {
            kind.set(r.kind.clone());
            scope.set(if r.scope.is_empty() { "service".into() } else { r.scope.clone() });
            channel.set(r.channel.clone());
        }
    });
    // A saved edit closes the form's edit.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if editing.with_untracked(Option::is_some) {
                editing.set(None);
            }
        }
    });

    // What the subject field offers: the cluster's services or nodes, asked once in the browser.
    let subjects = LocalResource::new(move || get_alert_subjects(cluster()));
    let watches = move || match (kind.get().as_str(), scope.get().as_str()) {
        ("metric", "service") | ("replicas", _) => "service",
        ("metric", "node") => "node",
        ("node_down", _) => "any-node",
        _ => "cluster",
    };
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Ok(p) => view! { <Lists p cluster=cluster() delete mute editing /> }.into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() testid="page-error" /> }.into_any()
                }
            }
        })
    };
    // Whether to show the form: asked once, in the browser only (so the server's page and the
    // hydrated one agree, and the form is not rebuilt by the refreshes).
    let access = LocalResource::new(move || get_alerts(cluster()));
    let can_manage = move || access.get().and_then(Result::ok).is_some_and(|p| p.can_manage);
    view! {
        <Title text="Alerts · Berth" />
        <div class="space-y-6">
            <PageHeader title="Alerts" subtitle="Rules checked after every collection; firings and resolutions go to the rule's webhook.">
                <A href=move || format!("/clusters/{}", cluster()) attr:class=BUTTON>"Back to the cluster"</A>
            </PageHeader>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            {move || can_manage().then(|| {
                // Rebuilt only when a rule is chosen for editing (or the edit ends), never by refreshes.
                let e = editing.get();
                let title = e.as_ref().map_or_else(|| "New rule".to_string(), |r| format!("Edit rule {}", r.name));
                let v = |f: fn(&AlertRuleRow) -> String, default: &str| e.as_ref().map(f).unwrap_or_else(|| default.to_string());
                let (name, threshold, for_secs, webhook) = (
                    v(|r| r.name.clone(), ""),
                    v(|r| if r.kind == "metric" { format::number(r.threshold) } else { "80".into() }, "80"),
                    v(|r| r.for_secs.to_string(), "60"),
                    v(|r| r.webhook.clone(), ""),
                );
                let (metric, subject) = (v(|r| r.metric.clone(), "cpu"), v(|r| r.subject.clone(), ""));
                let rule_id = e.as_ref().map(|r| r.id);
                view! {
                <section class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="alert-form-card">
                    <h2 class="mb-4 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">{title}</h2>
                    <ActionForm action=create attr:class="grid gap-3 sm:grid-cols-2 lg:grid-cols-4" attr:data-testid="alert-form">
                        <input type="hidden" name="cluster" value=cluster() />
                        {rule_id.map(|id| view! { <input type="hidden" name="rule" value=id /> })}
                        <label class="text-sm">"Name"<input class=INPUT name="name" required value=name data-testid="alert-name" /></label>
                        <label class="text-sm">"When"
                            <select class=INPUT name="kind" data-testid="alert-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                                <option value="metric" selected=move || kind.get() == "metric">"a metric is above a threshold"</option>
                                <option value="replicas" selected=move || kind.get() == "replicas">"a service runs fewer replicas than desired"</option>
                                <option value="node_down" selected=move || kind.get() == "node_down">"a node is down"</option>
                            </select>
                        </label>
                        {move || (kind.get() == "metric").then(|| {
                            let (metric, threshold) = (metric.clone(), threshold.clone());
                            let mem = metric == "mem";
                            view! {
                            <label class="text-sm">"Of"
                                <select class=INPUT name="scope" data-testid="alert-scope" on:change=move |ev| scope.set(event_target_value(&ev))>
                                    <option value="service" selected=move || scope.get() == "service">"a service"</option>
                                    <option value="node" selected=move || scope.get() == "node">"a node"</option>
                                    <option value="cluster" selected=move || scope.get() == "cluster">"the whole cluster"</option>
                                </select>
                            </label>
                            <label class="text-sm">"Metric"
                                <select class=INPUT name="metric" data-testid="alert-metric">
                                    <option value="cpu" selected=!mem>"CPU, % of one core"</option>
                                    <option value="mem" selected=mem>"memory, % of limit (MiB without one)"</option>
                                </select>
                            </label>
                            <label class="text-sm">"Above"<input class=INPUT name="threshold" inputmode="decimal" value=threshold data-testid="alert-threshold" /></label>
                        }})}
                        {move || (kind.get() != "metric").then(|| view! {
                            <input type="hidden" name="scope" value="" /><input type="hidden" name="metric" value="" /><input type="hidden" name="threshold" value="" />
                        })}
                        {move || {
                            let watches = watches();
                            let (label, choices, any): (&str, Vec<String>, Option<&str>) = match watches {
                                "service" => ("Service", subjects.get().and_then(Result::ok).map(|s| s.services).unwrap_or_default(), None),
                                "node" => ("Node", subjects.get().and_then(Result::ok).map(|s| s.nodes).unwrap_or_default(), None),
                                "any-node" => ("Node", subjects.get().and_then(Result::ok).map(|s| s.nodes).unwrap_or_default(), Some("any node")),
                                _ => return view! { <input type="hidden" name="subject" value="" /> }.into_any(),
                            };
                            if choices.is_empty() && any.is_none() {
                                let none = if watches == "service" { "No app of this cluster has services yet: deploy one first." } else { "The cluster has no nodes." };
                                return view! {
                                    <p class="self-end text-sm text-slate-500" data-testid="alert-subject-none">{none}</p>
                                    <input type="hidden" name="subject" value="" />
                                }.into_any();
                            }
                            let subject = subject.clone();
                            view! {
                                <label class="text-sm">{label}
                                    <select class=INPUT name="subject" required=any.is_none() data-testid="alert-subject">
                                        {any.map(|a| view! { <option value="">{a}</option> })}
                                        {choices.into_iter().map(|c| { let selected = c == subject; view! { <option value=c.clone() selected=selected>{c.clone()}</option> } }).collect_view()}
                                    </select>
                                </label>
                            }.into_any()
                        }}
                        <label class="text-sm">"For at least (seconds)"<input class=INPUT name="for_secs" inputmode="numeric" value=for_secs data-testid="alert-for" /></label>
                        <label class="text-sm">"Notify by"
                            <select class=INPUT name="channel" data-testid="alert-channel" on:change=move |ev| channel.set(event_target_value(&ev))>
                                {CHANNELS.iter().map(|(value, label)| view! { <option value=*value selected=move || channel.get() == *value>{*label}</option> }).collect_view()}
                            </select>
                        </label>
                        <label class="text-sm sm:col-span-2">{move || destination_label(&channel.get())}
                            <input class=INPUT name="webhook" value=webhook data-testid="alert-webhook"
                                type=move || if channel.get() == "email" { "text" } else { "url" }
                                placeholder=move || destination_placeholder(&channel.get()) />
                        </label>
                        <div class="flex items-end gap-2">
                            <button type="submit" class=PRIMARY data-testid="alert-create">{if rule_id.is_some() { "Save rule" } else { "Add rule" }}</button>
                            {rule_id.map(|_| view! { <button type="button" class=BUTTON data-testid="alert-edit-cancel" on:click=move |_| editing.set(None)>"Cancel"</button> })}
                        </div>
                    </ActionForm>
                    {move || create.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() testid="alert-error" /> })}
                </section>
                }
            })}
            <Card title="Events">
                {move || view! { <EventsTimeline cluster=cluster() app="" /> }}
            </Card>
        </div>
    }
}

/// The channels a rule notifies by: (value, label).
const CHANNELS: &[(&str, &str)] =
    &[("webhook", "Webhook (JSON)"), ("slack", "Slack"), ("teams", "Microsoft Teams"), ("email", "E-mail")];

fn destination_label(channel: &str) -> &'static str {
    match channel {
        "email" => "E-mail addresses (separated by commas)",
        "slack" => "Slack incoming webhook URL",
        "teams" => "Teams incoming webhook URL",
        _ => "Webhook URL (http:// or https://, optional)",
    }
}

fn destination_placeholder(channel: &str) -> &'static str {
    match channel {
        "email" => "ops@example.com",
        "slack" => "https://hooks.slack.com/services/…",
        "teams" => "https://example.webhook.office.com/…",
        _ => "https://hooks.example.com/berth",
    }
}

#[component]
fn Lists(
    p: AlertsPage,
    cluster: i64,
    delete: ServerAction<DeleteAlertRule>,
    mute: ServerAction<MuteAlertRule>,
    editing: RwSignal<Option<AlertRuleRow>>,
) -> impl IntoView {
    let manage = p.can_manage;
    let can_mute = p.can_mute;
    let now = p.now;
    view! {
        <Card title="Rules">
            {if p.rules.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="no-rules">"No rules yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="rules">
                        {p.rules.into_iter().map(|r| {
                            let id = r.id;
                            let muted = r.muted_until > now;
                            let channel = CHANNELS.iter().find(|c| c.0 == r.channel).map_or("Webhook", |c| c.1);
                            let edit_row = r.clone();
                            let what = match r.kind.as_str() {
                                "metric" => format!("{} of {} {} above {} for {} s", r.metric, r.scope, r.subject, format::number(r.threshold), r.for_secs),
                                "replicas" => format!("service {} below its desired replicas for {} s", r.subject, r.for_secs),
                                _ => format!("node {} down for {} s", if r.subject.is_empty() { "(any)" } else { &r.subject }, r.for_secs),
                            };
                            view! {
                                <li class="flex flex-wrap items-center gap-3 py-2" data-testid="rule" data-name=r.name.clone()>
                                    <span class="font-medium">{r.name.clone()}</span>
                                    <span class="flex-1 text-slate-600 dark:text-slate-300">{what}</span>
                                    <span class="max-w-xs truncate text-xs text-slate-500" data-testid="rule-destination">
                                        {if r.webhook.is_empty() { "notifies nobody".to_string() } else { format!("{channel}: {}", r.webhook) }}
                                    </span>
                                    {muted.then(|| view! {
                                        <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs font-semibold text-slate-700 dark:bg-slate-800 dark:text-slate-300" data-testid="rule-muted">
                                            {format!("muted until {}", format::time_of_day_utc(r.muted_until))}
                                        </span>
                                    })}
                                    {can_mute.then(|| if muted {
                                        view! { <button type="button" class=BUTTON data-testid="rule-unmute" on:click=move |_| { mute.dispatch(MuteAlertRule { cluster, id, minutes: 0 }); }>"Unmute"</button> }.into_any()
                                    } else {
                                        view! { <button type="button" class=BUTTON data-testid="rule-mute" title="Send nothing for an hour; the rule still fires here" on:click=move |_| { mute.dispatch(MuteAlertRule { cluster, id, minutes: 60 }); }>"Mute 1 h"</button> }.into_any()
                                    })}
                                    {manage.then(|| view! {
                                        <button type="button" class=BUTTON data-testid="rule-edit" on:click=move |_| editing.set(Some(edit_row.clone()))>"Edit"</button>
                                        <button type="button" class=DANGER data-testid="rule-delete" on:click=move |_| { delete.dispatch(DeleteAlertRule { cluster, id }); }>"Delete"</button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Card>
        <Card title="Alert history">
            {if p.history.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="no-alerts">"Nothing has fired."</p> }.into_any()
            } else {
                view! {
                    <table class="min-w-full text-left text-sm" data-testid="alert-history">
                        <thead class="text-xs uppercase tracking-wide text-slate-500">
                            <tr><th class="py-1">"Rule"</th><th>"State"</th><th>"Fired"</th><th>"Resolved"</th><th>"What"</th><th>"Notification"</th></tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                            {p.history.into_iter().map(|a| view! {
                                <tr data-testid="alert" data-state=if a.resolved_at.is_some() { "resolved" } else { "firing" }>
                                    <td class="py-1 font-medium">{a.rule_name.clone()}</td>
                                    <td><StatusBadge status=if a.resolved_at.is_some() { "resolved" } else { "firing" } /></td>
                                    <td class="tabular-nums">{format::date_utc(a.fired_at)}</td>
                                    <td class="tabular-nums">{a.resolved_at.map(format::date_utc).unwrap_or_else(|| "—".into())}</td>
                                    <td>{a.message.clone()}</td>
                                    <td class="text-xs text-slate-500">{a.delivery.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </Card>
    }
}
