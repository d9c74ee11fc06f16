//! An app's Jobs tab: each job service (cron task or run-to-completion job) with how it runs —
//! completions, parallelism, retries, deadline, and a schedule in words with its next times and
//! its concurrency — **Run now** (operators), and its newest runs: state, what started it, when,
//! how long, how many tasks completed, why it failed or was skipped. A run opens to its tasks
//! (node, state, exit code, times, swarm's error) and their logs, kept by Berth after swarm forgets
//! the tasks.
//!
//! The list refreshes every 3 s; the run opened, the state filter and Run now's answer live
//! outside the refreshing part, so a refresh never closes them.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::jobs::{get_job_run, get_jobs, JobRow, RunDetail, RunJob, RunRow, ScheduleRow};
use crate::components::ui::{ticker, Card, ErrorBanner, StatusBadge, BUTTON};
use crate::format;

/// The runs filter: as narrow as its longest choice.
const SELECT: &str =
    "rounded-md border border-slate-300 bg-white px-2 py-1 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-950";

/// What stays put while the list refreshes.
#[derive(Clone, Copy)]
struct Ui {
    /// The run whose tasks and logs are open.
    open: RwSignal<Option<i64>>,
    /// Which runs the lists show: `all`, `failed`, `succeeded` or `running`.
    filter: RwSignal<String>,
    run: ServerAction<RunJob>,
}

#[component]
pub fn JobsTab(app: i64, operate: Signal<bool>) -> impl IntoView {
    let ui = Ui { open: RwSignal::new(None), filter: RwSignal::new("all".into()), run: ServerAction::new() };
    crate::toast_on_success!(ui.run, "Run started: it shows below as soon as swarm places its tasks");
    Effect::new(move |_| {
        if let Some(Ok(id)) = ui.run.value().get() {
            ui.open.set(Some(id));
        }
    });
    let tick = ticker(Duration::from_secs(3));
    let data = crate::codec::resource(move || (tick.get(), ui.run.version().get()), move |_| get_jobs(app));
    let jobs = move || {
        Suspend::new(async move {
            match data.await {
                Ok(v) if v.jobs.is_empty() => view! {
                    <p class="text-sm text-slate-500" data-testid="jobs-none">
                        "This version has no jobs. A service with "<code>"deploy.mode: replicated-job"</code>" runs to completion; add "<code>"berth.schedule: \"*/5 * * * *\""</code>" to run it on a schedule."
                    </p>
                }
                .into_any(),
                Ok(v) => {
                    let now = v.now;
                    v.jobs
                        .into_iter()
                        .map(|j| view! { <JobCard j now app operate=operate.get() ui /> })
                        .collect_view()
                        .into_any()
                }
                Err(e) => view! { <ErrorBanner message=e.display() testid="jobs-error" /> }.into_any(),
            }
        })
    };
    view! {
        <section class="space-y-4" data-testid="jobs">
            {move || ui.run.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() testid="run-error" /> })}
            <div class="flex flex-wrap items-center gap-2 text-sm">
                <label for="run-filter" class="text-slate-500">"Show runs"</label>
                <select id="run-filter" class=SELECT data-testid="run-filter" on:change=move |ev| ui.filter.set(event_target_value(&ev))>
                    <option value="all">"all"</option>
                    <option value="failed">"failed, missed or skipped"</option>
                    <option value="succeeded">"succeeded"</option>
                    <option value="running">"running"</option>
                </select>
            </div>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{jobs}</Transition>
            {move || ui.open.get().map(|run| view! { <RunPanel app run ui /> })}
        </section>
    }
}

fn shown(filter: &str, state: &str) -> bool {
    match filter {
        "failed" => matches!(state, "failed" | "missed" | "skipped"),
        "succeeded" | "running" => state == filter,
        _ => true,
    }
}

#[component]
fn JobCard(j: JobRow, now: i64, app: i64, operate: bool, ui: Ui) -> impl IntoView {
    let service = j.service.clone();
    let run_service = service.clone();
    let kind = if j.schedule.is_some() { "cron task" } else { "run to completion" };
    let mut facts = vec![
        format::count(j.completions as i64, "completion"),
        format!("{} at a time", j.parallelism),
        format!("retries: {}", j.retries),
    ];
    if let Some(d) = j.deadline_s {
        facts.push(format!("deadline {}", format::duration(d as i64 * 1000)));
    }
    let runs = j.runs.clone();
    let list = move || {
        let filter = ui.filter.get();
        let rows: Vec<RunRow> = runs.iter().filter(|r| shown(&filter, &r.state)).cloned().collect();
        if rows.is_empty() {
            return view! { <p class="text-sm text-slate-500">"No runs to show yet."</p> }.into_any();
        }
        view! {
            <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="runs">
                {rows.into_iter().map(|r| view! { <RunItem r now ui /> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="job" data-service=service.clone()>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h3 class="font-semibold">{service.clone()}<span class="ml-2 text-xs font-normal text-slate-500">{kind}</span></h3>
                    <p class="text-sm text-slate-500" data-testid="job-facts">{facts.join(" · ")}</p>
                </div>
                {operate.then(|| view! {
                    <ActionForm action=ui.run>
                        <input type="hidden" name="app" value=app />
                        <input type="hidden" name="service" value=run_service />
                        <button type="submit" class=BUTTON data-testid="run-now" disabled=move || ui.run.pending().get()>"Run now"</button>
                    </ActionForm>
                })}
            </div>
            {j.schedule.map(|s| view! { <Schedule s now /> })}
            <div class="mt-3">{list}</div>
        </div>
    }
}

#[component]
fn Schedule(s: ScheduleRow, now: i64) -> impl IntoView {
    let next = s.next.first().copied();
    let concurrency = match s.concurrency.as_str() {
        "allow" => "a run due while the last goes runs beside it",
        "replace" => "a run due while the last goes stops it and starts",
        _ => "a run due while the last goes is skipped",
    };
    view! {
        <div class="mt-2 rounded-lg bg-slate-50 p-3 text-sm dark:bg-slate-800/60" data-testid="job-schedule">
            <p>
                <code class="font-mono">{s.cron.clone()}</code>
                <span class="ml-2">{s.describe.clone()}</span>
                <span class="ml-1 text-slate-500">{format!("({})", s.timezone)}</span>
            </p>
            <p class="text-slate-500" data-testid="job-next">
                {next.map(|t| format!("Next run {} (in {})", format::time_of_day_utc(t), format::duration(t - now))).unwrap_or_else(|| "No time to come".into())}
            </p>
            <p class="text-slate-500">{format!("{concurrency}; a run that cannot start within {} is recorded as missed.", format::duration(s.starting_deadline_s as i64 * 1000))}</p>
            <details class="mt-1">
                <summary class="cursor-pointer text-slate-500">"Next 5 times"</summary>
                <ul class="mt-1 font-mono text-xs">{s.next.iter().map(|t| view! { <li>{format::date_utc(*t)}{format!(":{:02}", (t / 1000) % 60)}</li> }).collect_view()}</ul>
            </details>
        </div>
    }
}

fn started_by(r: &RunRow) -> String {
    match (r.trigger.as_str(), r.scheduled_at) {
        ("schedule", Some(at)) => format!("scheduled for {}", format::time_of_day_utc(at)),
        ("manual", _) => format!("Run now by {}", r.actor),
        ("deploy", _) => "started by a deploy".into(),
        (other, _) => other.to_string(),
    }
}

#[component]
fn RunItem(r: RunRow, now: i64, ui: Ui) -> impl IntoView {
    let id = r.id;
    let took = match r.ended_at {
        Some(end) => format!("took {}", format::duration(end - r.started_at)),
        None => format!("running for {}", format::duration(now - r.started_at)),
    };
    let tasks = if matches!(r.state.as_str(), "skipped" | "missed") {
        String::new()
    } else {
        format!("{}/{} completed", r.succeeded_tasks, r.completions)
            + &(if r.failed_tasks > 0 { format!(", {} failed", r.failed_tasks) } else { String::new() })
    };
    let has_tasks = !r.tasks.is_empty();
    view! {
        <li class="py-2 text-sm" data-testid="run" data-state=r.state.clone() data-run=id>
            <div class="flex flex-wrap items-center gap-x-3 gap-y-1">
                <StatusBadge status=r.state.clone() />
                <span class="font-medium">{format!("Run {id}")}</span>
                <span class="text-slate-500">{started_by(&r)}</span>
                <span class="text-slate-500">{format::ago(r.started_at, now)}</span>
                {(!matches!(r.state.as_str(), "skipped" | "missed")).then(|| view! { <span class="text-slate-500">{took.clone()}</span> })}
                {(!tasks.is_empty()).then(|| view! { <span data-testid="run-tasks">{tasks.clone()}</span> })}
                {has_tasks.then(|| view! {
                    <button type="button" class="text-sky-700 underline dark:text-sky-300" data-testid="run-open"
                        aria-expanded=move || (ui.open.get() == Some(id)).to_string()
                        on:click=move |_| ui.open.update(|o| *o = if *o == Some(id) { None } else { Some(id) })>
                        {move || if ui.open.get() == Some(id) { "Hide tasks and logs" } else { "Tasks and logs" }}
                    </button>
                })}
            </div>
            {(!r.message.is_empty()).then(|| view! { <p class="mt-1 break-words text-slate-600 dark:text-slate-300" data-testid="run-message">{r.message.clone()}</p> })}
        </li>
    }
}

/// One run's tasks and their logs; refreshed while the run goes.
#[component]
fn RunPanel(app: i64, run: i64, ui: Ui) -> impl IntoView {
    let tick = ticker(Duration::from_secs(3));
    let detail = crate::codec::resource(move || tick.get(), move |_| get_job_run(app, run));
    // Opened from a row further up or down the page: brought into view.
    let panel = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = panel.get() {
            el.scroll_into_view();
        }
    });
    let body = move || {
        Suspend::new(async move {
            match detail.await {
                Ok(d) => view! { <RunTasks d /> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="run-detail-error" /> }.into_any(),
            }
        })
    };
    view! {
        <Card title="Run">
            <div class="space-y-3" data-testid="run-detail" data-run=run node_ref=panel>
                <div class="flex items-center justify-between gap-2">
                    <p class="text-sm font-medium">{format!("Run {run}: tasks and logs")}</p>
                    <button type="button" class=BUTTON on:click=move |_| ui.open.set(None)>"Close"</button>
                </div>
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
            </div>
        </Card>
    }
}

#[component]
fn RunTasks(d: RunDetail) -> impl IntoView {
    let logs = d.logs;
    view! {
        <div class="space-y-3">
            <p class="text-sm">
                <StatusBadge status=d.run.state.clone() testid="run-detail-state" />
                <span class="ml-2 text-slate-500">{format!("started {}", format::date_utc(d.run.started_at))}</span>
            </p>
            {(!d.run.message.is_empty()).then(|| view! { <p class="text-sm">{d.run.message.clone()}</p> })}
            <ul class="space-y-3">
                {d.run.tasks.into_iter().map(|t| {
                    let lines = logs.iter().find(|l| l.task == t.id).map(|l| l.lines.clone()).unwrap_or_default();
                    let took = t.ended_at.map(|e| format!("took {}", format::duration(e - t.started_at))).unwrap_or_default();
                    let exit = t.exit_code.map(|c| format!("exit code {c}")).unwrap_or_default();
                    view! {
                        <li class="rounded-lg border border-slate-200 p-3 text-sm dark:border-slate-800" data-testid="run-task" data-exit=t.exit_code.map(|c| c.to_string()).unwrap_or_default()>
                            <div class="flex flex-wrap items-center gap-x-3 gap-y-1">
                                <StatusBadge status=t.state.clone() />
                                <span class="font-mono text-xs">{format::short_id(&t.id).to_string()}</span>
                                <span>{format!("on {}", t.node)}</span>
                                {(!exit.is_empty()).then(|| view! { <span class="font-medium" data-testid="task-exit">{exit.clone()}</span> })}
                                <span class="text-slate-500">{took}</span>
                            </div>
                            {(!t.error.is_empty() && t.state != "complete").then(|| view! { <p class="mt-1 text-slate-600 dark:text-slate-300">{t.error.clone()}</p> })}
                            {if lines.is_empty() {
                                view! { <p class="mt-1 text-xs text-slate-500">"No log lines (yet)."</p> }.into_any()
                            } else {
                                view! {
                                    <pre class="mt-2 max-h-64 overflow-auto whitespace-pre-wrap break-words rounded bg-slate-950 p-2 font-mono text-xs text-slate-100" data-testid="task-log">
                                        {lines.into_iter().map(|l| l.line + "\n").collect::<String>()}
                                    </pre>
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}
