//! An app's jobs (cron tasks and run-to-completion jobs): each job service with its schedule
//! (in words, its next times), its newest runs with their tasks' exit codes; one run with its
//! tasks' logs; **Run now** (operators).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A job service of the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobRow {
    pub service: String,
    /// Tasks that must exit 0 for a run to succeed, and how many run at once.
    pub completions: u64,
    pub parallelism: u64,
    /// Swarm's retries, in words ("none", "on failure, at most 3 attempt(s)").
    pub retries: String,
    /// A run still going after this many seconds is stopped and failed.
    pub deadline_s: Option<u64>,
    pub schedule: Option<ScheduleRow>,
    /// The newest runs, newest first.
    pub runs: Vec<RunRow>,
}

/// When a scheduled job runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduleRow {
    /// 5 fields, or 6 with seconds first.
    pub cron: String,
    pub timezone: String,
    /// `allow`, `forbid` or `replace`: what a run due while the last one goes does.
    pub concurrency: String,
    pub starting_deadline_s: u64,
    /// In words.
    pub describe: String,
    /// The next five times (Unix ms).
    pub next: Vec<i64>,
}

/// One run of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunRow {
    pub id: i64,
    /// `schedule`, `manual` or `deploy`.
    pub trigger: String,
    pub actor: String,
    /// The cron time it was due (Unix ms; scheduled runs only).
    pub scheduled_at: Option<i64>,
    /// Unix ms.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `running`, `succeeded`, `failed`, `replaced`, `skipped` or `missed`.
    pub state: String,
    pub completions: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
    /// Why it failed, was skipped, missed or replaced.
    pub message: String,
    pub tasks: Vec<RunTaskRow>,
}

/// One task of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunTaskRow {
    pub id: String,
    /// The node's name in Berth (its swarm id when Berth does not know it).
    pub node: String,
    pub container_id: String,
    /// Swarm's state: `pending`, `running`, `complete`, `failed`, `shutdown`, …
    pub state: String,
    pub exit_code: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub error: String,
}

/// The Jobs tab's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsView {
    pub jobs: Vec<JobRow>,
    /// Server time (Unix ms), for "… ago" and "in …".
    pub now: i64,
}

/// A run with its tasks' logs (kept in Berth's log store after swarm forgets the tasks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunDetail {
    pub run: RunRow,
    pub logs: Vec<TaskLog>,
}

/// The newest lines of one task, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskLog {
    pub task: String,
    pub lines: Vec<RunLogLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunLogLine {
    /// Unix ns.
    pub ts: i64,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

#[cfg(feature = "ssr")]
pub mod map {
    use std::collections::HashMap;

    use super::*;
    use domain::jobs::{JobRun, JobRunDetail, JobService};

    pub fn run(r: JobRun, nodes: &HashMap<String, String>) -> RunRow {
        RunRow {
            tasks: r
                .tasks
                .into_iter()
                .map(|t| RunTaskRow {
                    node: nodes.get(&t.node_id).cloned().unwrap_or(t.node_id),
                    id: t.id,
                    container_id: t.container_id,
                    state: t.state,
                    exit_code: t.exit_code,
                    started_at: t.started_at,
                    ended_at: t.ended_at,
                    error: t.error,
                })
                .collect(),
            id: r.id,
            trigger: r.trigger,
            actor: r.actor,
            scheduled_at: r.scheduled_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            state: r.state,
            completions: r.completions,
            succeeded_tasks: r.succeeded_tasks,
            failed_tasks: r.failed_tasks,
            message: r.message,
        }
    }

    pub fn job(j: JobService, nodes: &HashMap<String, String>) -> JobRow {
        JobRow {
            runs: j.runs.into_iter().map(|r| run(r, nodes)).collect(),
            service: j.service,
            completions: j.completions,
            parallelism: j.parallelism,
            retries: j.retries,
            deadline_s: j.deadline_s,
            schedule: j.schedule.map(|s| ScheduleRow {
                cron: s.cron,
                timezone: s.timezone,
                concurrency: s.concurrency,
                starting_deadline_s: s.starting_deadline_s,
                describe: s.describe,
                next: s.next,
            }),
        }
    }

    pub fn detail(d: JobRunDetail) -> RunDetail {
        let nodes: HashMap<String, String> = d.nodes.into_iter().collect();
        RunDetail {
            run: run(d.run, &nodes),
            logs: d
                .logs
                .into_iter()
                .map(|(task, lines)| TaskLog {
                    task,
                    lines: lines.into_iter().map(|l| RunLogLine { ts: l.ts, stream: l.stream, line: l.line }).collect(),
                })
                .collect(),
        }
    }

    /// The app's jobs with node names for their tasks.
    pub async fn jobs(
        berth: &domain::Berth,
        actor: &domain::Actor,
        app: i64,
    ) -> Result<Vec<JobRow>, domain::error::Error> {
        let all = berth.app_jobs(actor, app).await?;
        let nodes: HashMap<String, String> = all.nodes.into_iter().collect();
        Ok(all.jobs.into_iter().map(|j| job(j, &nodes)).collect())
    }
}

/// The app's jobs with their schedules and newest runs.
#[server(endpoint = "get_jobs", output = crate::codec::Wire)]
pub async fn get_jobs(app: i64) -> Result<JobsView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let jobs = map::jobs(&berth, &actor, app).await.map_err(wire)?;
    Ok(JobsView { jobs, now: domain::clock::now_ms() })
}

/// One run with its tasks' logs.
#[server(endpoint = "get_job_run", output = crate::codec::Wire)]
pub async fn get_job_run(app: i64, run: i64) -> Result<RunDetail, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(map::detail(berth.job_run(&actor, app, run).await.map_err(wire)?))
}

/// Starts a run of a job now (operators); answers the run's id.
#[server(endpoint = "run_job", output = crate::codec::Wire)]
pub async fn run_job(app: i64, service: String) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.run_job_now(&actor, app, &service).await.map_err(wire)
}
