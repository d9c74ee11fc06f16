//! An app's **Scaling** tab: per replicated service, its autoscaling policy in words (from the
//! template's labels or set here), a paused policy with **Resume**, charts of replicas and of the
//! metric against its target over the last hour, and the newest decisions with why. The policy
//! form sits outside the part that refreshes, so what is typed survives the refreshes.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::scaling::{
    get_scaling, PolicyInput, PolicyView, RemoveScaling, ResumeScaling, ServiceScalingRow, SetScaling,
};
use crate::components::observe::{Line, LineChart};
use crate::components::ui::{ticker, ErrorBanner, BUTTON, DANGER, INPUT, PRIMARY};
use crate::format;

/// The chart's reach (the server sends the last hour).
const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

#[derive(Clone, Copy)]
struct Actions {
    set: ServerAction<SetScaling>,
    remove: ServerAction<RemoveScaling>,
    resume: ServerAction<ResumeScaling>,
    /// The service whose policy form is open, with the form's seed.
    editing: RwSignal<Option<(String, PolicyInput)>>,
    removing: RwSignal<Option<String>>,
}

#[component]
pub fn ScalingTab(app: i64, operate: Signal<bool>) -> impl IntoView {
    let actions = Actions {
        set: ServerAction::new(),
        remove: ServerAction::new(),
        resume: ServerAction::new(),
        editing: RwSignal::new(None),
        removing: RwSignal::new(None),
    };
    crate::toast_on_success!(actions.set, "Scaling policy saved");
    crate::toast_on_success!(actions.remove, "Scaling policy removed: the replicas stay as they are");
    crate::toast_on_success!(actions.resume, "Policy resumed: the autoscaler acts again");
    Effect::new(move |_| {
        if let Some(Ok(())) = actions.set.value().get() {
            actions.editing.set(None);
        }
    });
    let tick = ticker(Duration::from_secs(5));
    let changed = move || actions.set.version().get() + actions.remove.version().get() + actions.resume.version().get();
    let data = crate::codec::resource(move || (tick.get(), changed()), move |_| get_scaling(app));
    let error = move || {
        [actions.remove.value().get(), actions.resume.value().get()].into_iter().flatten().find_map(Result::err)
    };
    let services = move || {
        Suspend::new(async move {
            match data.await {
                Ok(rows) if rows.is_empty() => {
                    view! { <p class="text-sm text-slate-500">"This version has no services."</p> }.into_any()
                }
                Ok(rows) => rows
                    .into_iter()
                    .map(|r| view! { <ServiceCard r app operate=operate.get() actions /> })
                    .collect_view()
                    .into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="scaling-error" /> }.into_any(),
            }
        })
    };
    view! {
        <section class="space-y-4" data-testid="scaling">
            {move || error().map(|e| view! { <ErrorBanner message=e.display() testid="scaling-action-error" /> })}
            {move || actions.editing.get().map(|(service, seed)| view! { <PolicyForm app service seed actions /> })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{services}</Transition>
        </section>
    }
}

/// The form's values of a policy (a new one: CPU at 70 %, 1–3 replicas).
fn seed(p: Option<&PolicyView>) -> PolicyInput {
    match p {
        Some(p) => PolicyInput {
            metric: p.metric.clone(),
            mode: p.mode.clone(),
            target: if p.mode == "target" { format::number(p.target) } else { String::new() },
            window: p.window_s.to_string(),
            lower: if p.mode == "step" { format::number(p.lower) } else { String::new() },
            upper: if p.mode == "step" { format::number(p.upper) } else { String::new() },
            step: p.step.max(1).to_string(),
            hold: if p.hold_s == 0 { "180".into() } else { p.hold_s.to_string() },
            min: p.min.to_string(),
            max: p.max.to_string(),
            schedules: p
                .schedules
                .iter()
                .map(|w| format!("{}; {}; {}; {}; {}", w.name, w.start, w.end, w.timezone, w.replicas))
                .collect::<Vec<_>>()
                .join("\n"),
        },
        None => PolicyInput {
            metric: "cpu".into(),
            mode: "target".into(),
            target: "70".into(),
            window: "300".into(),
            step: "1".into(),
            hold: "180".into(),
            min: "1".into(),
            max: "3".into(),
            ..PolicyInput::default()
        },
    }
}

#[component]
fn ServiceCard(r: ServiceScalingRow, app: i64, operate: bool, actions: Actions) -> impl IntoView {
    let service = r.service.clone();
    let policy = r.policy.clone();
    let unit: fn(f64) -> String = match policy.as_ref().map(|p| p.metric.as_str()) {
        Some("rps") => |v| format!("{} req/s", format::tenths(v)),
        _ => |v| format!("{} %", format::tenths(v)),
    };
    let to = r.points.last().map(|p| p.ts).unwrap_or_else(now);
    let from = to - HOUR;
    let replicas = vec![
        Line {
            label: "replicas".into(),
            tone: "stroke-sky-600",
            points: r.points.iter().map(|p| (p.ts, p.replicas as f64)).collect(),
        },
        Line {
            label: "metric recommends".into(),
            tone: "stroke-slate-400",
            points: r.points.iter().map(|p| (p.ts, p.recommended as f64)).collect(),
        },
    ];
    let mut metric = vec![Line {
        label: "measured".into(),
        tone: "stroke-emerald-600",
        points: r.points.iter().filter_map(|p| Some((p.ts, p.value?))).collect(),
    }];
    if let Some(p) = policy.as_ref() {
        let lines: Vec<(&str, f64, &'static str)> = if p.mode == "target" {
            vec![("target", p.target, "stroke-amber-500")]
        } else {
            vec![("scale out above", p.upper, "stroke-red-500"), ("scale in below", p.lower, "stroke-amber-500")]
        };
        // Drawn at every evaluation, as the chart draws lines sample by sample.
        for (label, v, tone) in lines {
            metric.push(Line { label: label.into(), tone, points: r.points.iter().map(|p| (p.ts, v)).collect() });
        }
    }
    let step = r.points.windows(2).last().map(|w| (w[1].ts - w[0].ts).max(1000)).unwrap_or(10_000);
    let has_points = !r.points.is_empty();
    let (edit_service, remove_service, resume_service) = (service.clone(), service.clone(), service.clone());
    let confirm_service = service.clone();
    let edit_seed = seed(policy.as_ref());
    let asking = {
        let service = service.clone();
        move || actions.removing.get().as_deref() == Some(service.as_str())
    };
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="scaling-service" data-name=service.clone() data-paused=policy.as_ref().is_some_and(|p| p.paused_by.is_some()).to_string()>
            <div class="flex flex-wrap items-start justify-between gap-2">
                <div class="min-w-0">
                    <h3 class="font-semibold">{service.clone()}</h3>
                    <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="scaling-policy">
                        {match policy.as_ref() {
                            Some(p) => format!("{} ({})", p.describe, if p.source == "labels" { "from the template's labels" } else { "set in the console" }),
                            None if r.global => "A global service runs one task per node: it is not scaled.".to_string(),
                            None => "No autoscaling policy: the replicas stay as set.".to_string(),
                        }}
                    </p>
                    {policy.as_ref().filter(|p| !p.schedules.is_empty()).map(|p| view! {
                        <ul class="mt-1 text-xs text-slate-500" data-testid="scaling-windows">
                            {p.schedules.iter().map(|w| view! {
                                <li>{format!("{}: at least {} from “{}” to “{}” ({}){}", w.name, w.replicas, w.start, w.end,
                                    if w.timezone.is_empty() { "UTC" } else { w.timezone.as_str() },
                                    w.next_opening.map(|t| format!(", next opens {}", format::date_utc(t))).unwrap_or_default())}</li>
                            }).collect_view()}
                        </ul>
                    })}
                </div>
                {(operate && !r.global).then(|| view! {
                    <div class="flex flex-wrap gap-2">
                        <button type="button" class=BUTTON data-testid="scaling-edit" on:click=move |_| actions.editing.set(Some((edit_service.clone(), edit_seed.clone())))>
                            {if policy.is_some() { "Edit policy" } else { "Add a policy" }}
                        </button>
                        {policy.is_some().then(|| view! {
                            <button type="button" class=BUTTON data-testid="scaling-remove" on:click=move |_| actions.removing.set(Some(remove_service.clone()))>"Remove"</button>
                        })}
                    </div>
                })}
            </div>
            {move || asking().then(|| {
                let service = confirm_service.clone();
                view! {
                    <div role="alertdialog" class="mt-3 flex flex-wrap items-center gap-3 rounded-lg border border-red-200 bg-red-50 p-3 text-sm dark:border-red-900 dark:bg-red-950">
                        <span class="flex-1">"Remove this policy? The service keeps the replicas it has now."</span>
                        <button type="button" class=DANGER data-testid="scaling-remove-sure" on:click=move |_| {
                            actions.remove.dispatch(RemoveScaling { app, service: service.clone() });
                            actions.removing.set(None);
                        }>"Remove policy"</button>
                        <button type="button" class=BUTTON on:click=move |_| actions.removing.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            {policy.as_ref().and_then(|p| Some((p.paused_by.clone()?, p.paused_at?))).map(|(by, at)| view! {
                <div role="status" class="mt-3 flex flex-wrap items-center gap-3 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-100" data-testid="scaling-paused">
                    <span class="flex-1">{format!("Paused: {by} scaled this service by hand at {}. The autoscaler measures but does not act until the policy is resumed.", format::date_utc(at))}</span>
                    {operate.then(|| view! {
                        <button type="button" class=PRIMARY data-testid="scaling-resume" on:click=move |_| { actions.resume.dispatch(ResumeScaling { app, service: resume_service.clone() }); }>"Resume"</button>
                    })}
                </div>
            })}
            {(policy.is_some() && has_points).then(|| view! {
                <div class="mt-3 grid gap-3 lg:grid-cols-2">
                    <LineChart title="Replicas" testid="scaling-replicas" lines=Signal::derive(move || replicas.clone()) from=Signal::derive(move || from) to=Signal::derive(move || to) step=Signal::derive(move || step) unit=|v| format::tenths(v).trim_end_matches(".0").to_string() />
                    <LineChart title="Metric per replica" testid="scaling-metric" lines=Signal::derive(move || metric.clone()) from=Signal::derive(move || from) to=Signal::derive(move || to) step=Signal::derive(move || step) unit=unit />
                </div>
            })}
            {(policy.is_some() && !has_points).then(|| view! {
                <p class="mt-3 text-sm text-slate-500" data-testid="scaling-waiting">"The autoscaler judges the service after each collection of the cluster's metrics; the chart starts with the first."</p>
            })}
            {(!r.decisions.is_empty()).then(|| view! {
                <div class="mt-3">
                    <h4 class="text-xs font-semibold uppercase tracking-wide text-slate-500">"Decisions, newest first"</h4>
                    <ul class="mt-1 divide-y divide-slate-100 text-xs dark:divide-slate-800" data-testid="scaling-decisions">
                        {r.decisions.iter().map(|d| {
                            let changed = d.from != d.to;
                            let tone = match d.kind.as_str() {
                                "failed" => "text-red-700 dark:text-red-300",
                                "paused" => "text-amber-700 dark:text-amber-300",
                                _ if changed => "text-sky-700 dark:text-sky-300 font-semibold",
                                _ => "text-slate-600 dark:text-slate-400",
                            };
                            view! {
                                <li class="py-1.5" data-testid="scaling-decision" data-kind=d.kind.clone()>
                                    <div class="flex flex-wrap items-baseline gap-x-3">
                                        <span class="tabular-nums text-slate-500">{format::date_utc(d.ts)}</span>
                                        <span class="tabular-nums">{if changed { format!("{} → {} replicas", d.from, d.to) } else { format::count(d.to, "replica") }}</span>
                                        <span class=tone>{d.kind.replace('-', " ")}</span>
                                    </div>
                                    <p class="text-slate-600 dark:text-slate-300">{d.reason.clone()}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            })}
        </div>
    }
}

#[component]
fn PolicyForm(app: i64, service: String, seed: PolicyInput, actions: Actions) -> impl IntoView {
    let f = RwSignal::new(seed);
    let error = move || actions.set.value().get().and_then(Result::err);
    let field_error = move |name: &'static str| {
        view! { <span class="block text-xs text-red-600" data-testid=format!("error-scaling-{name}")>{move || error().and_then(|e| e.for_field(name))}</span> }
    };
    let banner = move || error().filter(|e| e.field.is_none() && e.fields.is_none());
    macro_rules! input {
        ($label:expr, $field:ident, $placeholder:expr) => {
            view! {
                <label class="block text-sm">{$label}
                    <input class=INPUT data-testid=concat!("scaling-", stringify!($field)) placeholder=$placeholder
                        prop:value=move || f.with(|f| f.$field.clone())
                        on:input=move |ev| f.update(|f| f.$field = event_target_value(&ev)) />
                    {field_error(stringify!($field))}
                </label>
            }
        };
    }
    let target_mode = move || f.with(|f| f.mode == "target");
    let title = format!("Autoscaling of {service}");
    let submit_service = service.clone();
    view! {
        <div class="rounded-xl border border-sky-200 bg-sky-50/40 p-4 dark:border-sky-900 dark:bg-sky-950/30" data-testid="scaling-form">
            <h3 class="font-semibold">{title}</h3>
            {move || banner().map(|e| view! { <ErrorBanner message=e.display() testid="scaling-form-error" /> })}
            <div class="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
                <label class="block text-sm">"Metric (per replica)"
                    <select class=INPUT data-testid="scaling-metric-select" on:change=move |ev| f.update(|f| f.metric = event_target_value(&ev))>
                        {[("cpu", "CPU % of the limit"), ("memory", "Memory % of the limit"), ("rps", "Requests per second")].into_iter().map(|(v, label)| view! {
                            <option value=v selected=move || f.with(|f| f.metric == v)>{label}</option>
                        }).collect_view()}
                    </select>
                    {field_error("metric")}
                </label>
                <label class="block text-sm">"Rule"
                    <select class=INPUT data-testid="scaling-mode" on:change=move |ev| f.update(|f| f.mode = event_target_value(&ev))>
                        <option value="target" selected=target_mode>"Target (the HPA rule)"</option>
                        <option value="step" selected=move || !target_mode()>"Thresholds and steps"</option>
                    </select>
                    {field_error("mode")}
                </label>
                {input!("Min replicas", min, "1")}
                {input!("Max replicas", max, "3")}
                {move || if target_mode() {
                    view! {
                        {input!("Target per replica", target, "70")}
                        {input!("Scale-down window (s)", window, "300")}
                    }.into_any()
                } else {
                    view! {
                        {input!("Scale out above", upper, "70")}
                        {input!("Scale in below", lower, "30")}
                        {input!("Step (replicas)", step, "1")}
                        {input!("Held for (s)", hold, "180")}
                    }.into_any()
                }}
            </div>
            <label class="mt-3 block text-sm">"Schedule windows: at least N replicas between a start and an end (one per line: name; start cron; end cron; time zone; replicas)"
                <textarea class=format!("{INPUT} font-mono") rows="3" data-testid="scaling-schedules" placeholder="business hours; 0 9 * * 1-5; 0 18 * * 1-5; Europe/Berlin; 4"
                    prop:value=move || f.with(|f| f.schedules.clone())
                    on:input=move |ev| f.update(|f| f.schedules = event_target_value(&ev))></textarea>
                {field_error("schedules")}
            </label>
            <p class="mt-2 text-xs text-slate-500">"Target: replicas = ceil(replicas × measured ÷ target), nothing within 10 %; up at once, down only to the highest recommendation of the window. New tasks (under 30 s) and tasks without a sample never cause a scale-down. A manual scale pauses the policy."</p>
            <div class="mt-3 flex justify-end gap-2">
                <button type="button" class=BUTTON on:click=move |_| actions.editing.set(None)>"Cancel"</button>
                <button type="button" class=PRIMARY data-testid="scaling-save" disabled=move || actions.set.pending().get()
                    on:click=move |_| {
                        let p = f.get_untracked();
                        actions.set.dispatch(SetScaling {
                            app,
                            service: submit_service.clone(),
                            metric: p.metric,
                            mode: p.mode,
                            target: p.target,
                            window: p.window,
                            lower: p.lower,
                            upper: p.upper,
                            step: p.step,
                            hold: p.hold,
                            min: p.min,
                            max: p.max,
                            schedules: p.schedules,
                        });
                    }>
                    "Save policy"
                </button>
            </div>
        </div>
    }
}
