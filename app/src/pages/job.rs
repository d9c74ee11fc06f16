//! A long-running operation: its steps, a progress bar and the elapsed time, live until it ends.
//! The page can be left and opened again; the job goes on on the server.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::cluster::{get_job, JobRow};
use crate::components::ui::{go_to, ticker, ErrorBanner, PageHeader, ProgressBar, StatusBadge, BUTTON};
use crate::format;

/// What a job kind is called on its page.
pub fn job_title(kind: &str, target: &str) -> String {
    match kind {
        "cluster.create" => format!("Creating cluster {target}"),
        "cluster.delete" => format!("Deleting cluster {target}"),
        "node.add" => format!("Adding nodes to {target}"),
        "node.remove" => format!("Removing node {target}"),
        "cluster.rebalance" => format!("Rebalancing {target}"),
        "app.create" => format!("Deploying app {target}"),
        "app.update" => format!("Updating app {target}"),
        "app.rollback" => format!("Rolling back app {target}"),
        "app.redeploy" => format!("Redeploying app {target}"),
        "app.start" => format!("Starting app {target}"),
        "app.delete" => format!("Deleting app {target}"),
        other => format!("{other} {target}"),
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let page = crate::components::ui::page_id("/jobs/", "id");
    let id = move || page.get();
    let tick = ticker(Duration::from_secs(1));
    let job = crate::codec::resource(move || (id(), tick.get()), |(id, _)| get_job(id));
    let body = move || {
        Suspend::new(async move {
            match job.await {
                Ok(job) => view! { <JobView job /> }.into_any(),
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
        <Title text="Operation · Berth" />
        <div class="max-w-3xl space-y-6">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>{body}</Transition>
        </div>
    }
}

#[component]
fn JobView(job: JobRow) -> impl IntoView {
    let elapsed = job.finished_at.unwrap_or(job.now) - job.started_at;
    let failed = job.status == "failed";
    let done_link = match (job.status.as_str(), job.kind.as_str(), job.cluster_id) {
        ("succeeded", "cluster.delete", _) | (_, _, None) => Some(("/clusters".to_string(), "Back to clusters")),
        ("succeeded", _, Some(id)) => Some((format!("/clusters/{id}"), "Open the cluster")),
        ("failed", "cluster.create", _) => Some(("/clusters/new".to_string(), "Try again")),
        ("failed", _, Some(id)) => Some((format!("/clusters/{id}"), "Back to the cluster")),
        _ => None,
    };
    let percent = job.progress;
    view! {
        <PageHeader title=job_title(&job.kind, &job.target) subtitle=format!("Started by {} · operation {}", job.actor, job.id)>
            <StatusBadge status=job.status.clone() testid="job-status" />
        </PageHeader>
        <section class="space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <div class="flex items-center justify-between text-sm">
                <span class="font-medium tabular-nums" data-testid="job-percent">{format!("{percent} %")}</span>
                <span class="tabular-nums text-slate-500" data-testid="job-elapsed">{format!("{} elapsed", format::duration(elapsed))}</span>
            </div>
            <ProgressBar percent=Signal::derive(move || percent) failed=Signal::derive(move || failed) />
            <ol class="space-y-3" data-testid="job-steps">
                {job
                    .steps
                    .into_iter()
                    .map(|s| {
                        let took = match (s.started_at, s.finished_at) {
                            (Some(a), Some(b)) => format::duration(b - a),
                            (Some(a), None) => format::duration(job.now - a),
                            _ => String::new(),
                        };
                        let mark = match s.state.as_str() {
                            "done" => ("✓", "text-emerald-600"),
                            "running" => ("●", "text-sky-600 animate-pulse"),
                            "failed" => ("✕", "text-red-600"),
                            _ => ("○", "text-slate-400"),
                        };
                        view! {
                            <li class="flex gap-3" data-state=s.state.clone()>
                                <span class=format!("w-4 text-center font-bold {}", mark.1) aria-hidden="true">{mark.0}</span>
                                <div class="min-w-0 flex-1">
                                    <div class="flex justify-between gap-2 text-sm">
                                        <span class=if s.state == "pending" { "text-slate-500" } else { "font-medium" }>{s.name}</span>
                                        <span class="tabular-nums text-xs text-slate-500">{took}</span>
                                    </div>
                                    {(!s.detail.is_empty()).then(|| {
                                        let tone = if s.state == "failed" { "text-red-700 dark:text-red-300" } else { "text-slate-500" };
                                        view! { <p class=format!("text-xs {tone}") data-testid="step-detail">{s.detail}</p> }
                                    })}
                                </div>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            {failed.then(|| {
                let undone = matches!(job.kind.as_str(), "cluster.create" | "node.add") && !job.error.contains("also failed");
                let note = if undone { " Berth removed what it had created for it." } else { "" };
                view! { <ErrorBanner message=format!("Failed: {}.{note}", job.error) testid="job-error" /> }
            })}
            {done_link.map(|(href, label)| view! { <A href=href attr:class=BUTTON attr:data-testid="job-next">{label}</A> })}
        </section>
    }
}
