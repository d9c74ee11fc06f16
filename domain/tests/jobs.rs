//! Cron tasks and run-to-completion jobs on a real local cluster. One app holds a job of each
//! kind: a batch job run by its deploy (2 completions, 2 at a time), one of 3 completions whose one task exits 3, one
//! past its deadline, and jobs every 5 seconds with each concurrency policy. Berth keeps their
//! runs — once per scheduled time, with the tasks' exit codes and their logs from the log store —
//! after swarm has forgotten the tasks; a forbid job's run due while the last goes is skipped, a
//! replace job's last run is replaced, an allow job's runs overlap; **Run now** starts one.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::clock::now_ms;
use domain::jobs::{JobRun, JobService};
use domain::store::OperationFilter;
use domain::testing::{admin, job_end, ClusterOptions, TestBerth, TestCluster};

const IMAGE: &str = "berth-test/jobs:1";

const TEMPLATE: &str = r#"
services:
  batch:
    image: berth-test/jobs:1
    command: ["sh", "-c", "echo batch part done"]
    labels:
      berth.job.parallelism: "2"
    deploy:
      mode: replicated-job
      replicas: 2
  broken:
    image: berth-test/jobs:1
    command: ["sh", "-c", "if mkdir /flag/first 2>/dev/null; then echo failing on purpose; sleep 2; exit 3; fi; echo part done"]
    volumes: ["flag:/flag"]
    labels:
      berth.job.parallelism: "3"
    deploy:
      mode: replicated-job
      replicas: 3
  capped:
    image: berth-test/jobs:1
    command: ["sleep", "60"]
    labels:
      berth.job.deadline: "3"
    deploy:
      mode: replicated-job
  tick:
    image: berth-test/jobs:1
    command: ["sh", "-c", "echo tick"]
    labels:
      berth.schedule: "*/5 * * * * *"
  slow:
    image: berth-test/jobs:1
    command: ["sleep", "7"]
    labels:
      berth.schedule: "*/5 * * * * *"
      berth.schedule.concurrency: forbid
  replacing:
    image: berth-test/jobs:1
    command: ["sleep", "7"]
    labels:
      berth.schedule: "*/5 * * * * *"
      berth.schedule.concurrency: replace
  late:
    image: berth-test/jobs:1
    command: ["sh", "-c", "echo late"]
    labels:
      berth.schedule: "*/5 * * * * *"
      berth.schedule.starting_deadline: "1"
  overlapping:
    image: berth-test/jobs:1
    command: ["sleep", "7"]
    labels:
      berth.schedule: "*/5 * * * * *"
      berth.schedule.concurrency: allow
volumes:
  flag: {}
"#;

async fn eventually<T>(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn runs<'a>(jobs: &'a [JobService], service: &str) -> &'a [JobRun] {
    &jobs.iter().find(|j| j.service == service).unwrap_or_else(|| panic!("no job {service}")).runs
}

fn tweak(c: &mut domain::Config) {
    c.reconcile_every = Duration::from_millis(500);
    c.collect_every = Duration::from_secs(1);
    c.jobs_every = Duration::from_millis(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_on_schedule_once_per_time_and_keep_their_tasks_and_logs() {
    let t = TestBerth::new(tweak).await;
    let berth = &t.berth;
    let options = ClusterOptions::one_node("jb").image(IMAGE, &["sh", "echo", "sleep", "mkdir"]);
    let cluster = TestCluster::create(berth, options).await;
    let input = AppInput {
        cluster_id: cluster.id,
        name: "jobs".into(),
        compose: TEMPLATE.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());

    let jobs = async || berth.app_jobs(&admin(), app).await.unwrap().jobs;
    let listed = jobs().await;
    let tick = listed.iter().find(|j| j.service == "tick").unwrap();
    let schedule = tick.schedule.as_ref().expect("tick is scheduled");
    assert_eq!(schedule.next.len(), 5);
    assert!(schedule.next.iter().all(|t| t % 5000 == 0), "{:?}", schedule.next);
    assert_eq!(listed.iter().find(|j| j.service == "batch").unwrap().completions, 2);

    // The deploy ran the batch job: two tasks that exited 0, their lines in the log store.
    let batch = eventually(Duration::from_secs(60), "the batch job's run succeeds", async || {
        runs(&jobs().await, "batch").first().filter(|r| r.state == "succeeded").cloned()
    })
    .await;
    assert_eq!(batch.trigger, "deploy");
    assert_eq!((batch.succeeded_tasks, batch.completions), (2, 2));
    assert_eq!(batch.tasks.len(), 2, "{:?}", batch.tasks);
    assert!(batch.tasks.iter().all(|t| t.exit_code == Some(0) && t.state == "complete"), "{:?}", batch.tasks);
    let detail = eventually(Duration::from_secs(30), "the batch run's logs are stored", async || {
        let d = berth.job_run(&admin(), app, batch.id).await.unwrap();
        (d.logs.len() == 2 && d.logs.iter().all(|(_, lines)| lines.iter().any(|l| l.line.contains("batch part done"))))
            .then_some(d)
    })
    .await;
    assert!(detail.nodes.iter().any(|(_, name)| name == "n1"), "{:?}", detail.nodes);

    // Of 3 completions one task exits 3: the run fails with that exit code and the task's own words,
    // the other two completed.
    let broken = eventually(Duration::from_secs(60), "the broken job's run fails", async || {
        runs(&jobs().await, "broken").first().filter(|r| r.state == "failed").cloned()
    })
    .await;
    assert_eq!((broken.succeeded_tasks, broken.failed_tasks, broken.completions), (2, 1, 3), "{broken:?}");
    let mut codes: Vec<Option<i64>> = broken.tasks.iter().map(|t| t.exit_code).collect();
    codes.sort();
    assert_eq!(codes, [Some(0), Some(0), Some(3)], "{:?}", broken.tasks);
    assert!(
        broken.message.contains("1 of 3 task(s) failed") && broken.message.contains("exit (3)"),
        "{}",
        broken.message
    );
    let failing = broken.tasks.iter().find(|t| t.exit_code == Some(3)).unwrap().id.clone();
    eventually(Duration::from_secs(30), "the broken run's logs are stored", async || {
        let d = berth.job_run(&admin(), app, broken.id).await.unwrap();
        let of = |task: &str, text: &str| {
            d.logs.iter().any(|(t, lines)| t == task && lines.iter().any(|l| l.line.contains(text)))
        };
        (of(&failing, "failing on purpose") && d.logs.iter().filter(|(t, _)| of(t, "part done")).count() == 2)
            .then_some(())
    })
    .await;

    // A run past its deadline is stopped and failed.
    let capped = eventually(Duration::from_secs(60), "the capped job's run passes its deadline", async || {
        runs(&jobs().await, "capped").first().filter(|r| r.state == "failed").cloned()
    })
    .await;
    assert!(capped.message.contains("deadline of 3 s"), "{}", capped.message);
    assert!(capped.ended_at.unwrap() - capped.started_at < 10_000, "{capped:?}");

    // Scheduled runs: three of tick, each at its own 5-second time, each once.
    let ticks = eventually(Duration::from_secs(60), "three scheduled runs of tick succeed", async || {
        let all = runs(&jobs().await, "tick").to_vec();
        (all.iter().filter(|r| r.state == "succeeded").count() >= 3).then_some(all)
    })
    .await;
    let times: Vec<i64> = ticks.iter().filter_map(|r| r.scheduled_at).collect();
    assert_eq!(times.len(), ticks.len(), "every run of tick is a scheduled one: {ticks:?}");
    assert!(times.iter().all(|t| t % 5000 == 0), "{times:?}");
    assert_eq!(times.iter().collect::<HashSet<_>>().len(), times.len(), "once per time: {times:?}");
    assert!(ticks.iter().all(|r| r.trigger == "schedule" && r.actor == "scheduler"), "{ticks:?}");
    assert!(ticks.iter().all(|r| r.started_at - r.scheduled_at.unwrap() < 2_000), "started on time: {ticks:?}");

    // Concurrency: forbid skips, replace replaces, allow overlaps.
    let all = jobs().await;
    let slow = eventually(Duration::from_secs(40), "a run of slow is skipped", async || {
        let r = runs(&jobs().await, "slow").to_vec();
        r.iter().any(|r| r.state == "skipped").then_some(r)
    })
    .await;
    let skipped = slow.iter().find(|r| r.state == "skipped").unwrap();
    assert!(skipped.message.contains("concurrency forbid"), "{}", skipped.message);
    drop(all);
    let replaced = eventually(Duration::from_secs(40), "a run of replacing is replaced", async || {
        runs(&jobs().await, "replacing").iter().find(|r| r.state == "replaced").cloned()
    })
    .await;
    assert!(replaced.message.contains("concurrency replace"), "{}", replaced.message);
    let overlapping = eventually(Duration::from_secs(60), "two runs of overlapping succeed side by side", async || {
        let r = runs(&jobs().await, "overlapping").to_vec();
        let done: Vec<&JobRun> = r.iter().filter(|r| r.state == "succeeded").collect();
        done.windows(2)
            .any(|w| w[1].ended_at.unwrap() > w[0].started_at && w[0].ended_at.unwrap() > w[1].started_at)
            .then_some(r)
    })
    .await;
    assert!(!overlapping.iter().any(|r| r.state == "skipped" || r.state == "replaced"), "{overlapping:?}");

    // Run now: a manual run of the batch job, recorded in the history.
    let run = berth.run_job_now(&admin(), app, "batch").await.unwrap();
    let manual = eventually(Duration::from_secs(60), "the manual run succeeds", async || {
        runs(&jobs().await, "batch").iter().find(|r| r.id == run && r.state == "succeeded").cloned()
    })
    .await;
    assert_eq!((manual.trigger.as_str(), manual.actor.as_str()), ("manual", "admin"));
    let not_a_job = berth.run_job_now(&admin(), app, "nope").await.unwrap_err();
    assert!(not_a_job.to_string().contains("nope is not a job"), "{not_a_job}");
    let filter = OperationFilter { action: "app.job.run".into(), limit: 200, ..Default::default() };
    let ops = berth.operations(&admin(), &filter).await.unwrap();
    assert!(ops.iter().any(|o| o.actor_name == "admin" && o.target == "jobs/batch"), "Run now is an operation");
    assert!(
        ops.iter().any(|o| o.actor_name == "scheduler" && o.target == "jobs/tick"),
        "a scheduled run is an operation"
    );

    // A restart: a time that came while Berth was away starts late within its starting deadline
    // (60 s for tick), and is recorded as missed past it (1 s for late).
    berth.stop_background().await;
    let stopped = now_ms();
    let away = stopped - stopped % 5000 + 5000;
    eventually(Duration::from_secs(10), "a schedule time passes while Berth is away", async || {
        (now_ms() > away + 1_500).then_some(())
    })
    .await;
    let mut config = domain::testing::local_config(t.data.path());
    tweak(&mut config);
    let again = domain::Berth::new(t.db.open().await, config);
    again.recover().await.unwrap();
    let jobs = async || again.app_jobs(&admin(), app).await.unwrap().jobs;
    let late_tick = eventually(Duration::from_secs(30), "tick's time while away runs late", async || {
        runs(&jobs().await, "tick").iter().find(|r| r.scheduled_at == Some(away)).cloned()
    })
    .await;
    assert!(late_tick.started_at - away >= 1_500, "started after the restart: {late_tick:?}");
    assert_ne!(late_tick.state, "missed");
    let missed = eventually(Duration::from_secs(30), "late's time while away is missed", async || {
        runs(&jobs().await, "late").iter().find(|r| r.scheduled_at == Some(away)).cloned()
    })
    .await;
    assert_eq!(missed.state, "missed", "{missed:?}");
    assert!(missed.message.contains("starting deadline of 1 s"), "{}", missed.message);
    again.stop_background().await;
}
