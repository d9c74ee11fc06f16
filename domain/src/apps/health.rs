//! Apps between jobs: each reconcile pass compares a cluster's running apps with their live services,
//! so an app whose services fail or vanish behind Berth's back changes status (and gets an event)
//! without anyone opening its page.
//!
//! Level-triggered, like the node pass: a `running` app whose service runs fewer tasks than desired
//! (or is gone) becomes `degraded` once that has been seen on two passes in a row (a task restarting
//! once does not flap), and `running` again as soon as everything runs. Apps a job owns
//! (`deploying`, `deleting`), stopped and failed apps are left to their jobs; every write is
//! conditional on the status read, so a job that starts meanwhile wins.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::apps::plan::APP_LABEL;
use crate::clock::now_ms;
use crate::clusters::reconcile::Follower;
use crate::engine::{Engine, LiveService};
use crate::error::Result;
use crate::store::App;
use crate::store::NewEvent;
use crate::Berth;

/// What the reconciler remembers between passes.
#[derive(Debug, Default)]
pub(crate) struct AppWatch {
    /// Service names of each app version (parsing the template once per version, not per pass).
    services: Mutex<HashMap<(i64, i64), Vec<String>>>,
    /// Passes in a row an app was seen short of tasks.
    short: Mutex<HashMap<i64, u32>>,
}

/// What is wrong with an app's services, from the live ones (empty: nothing).
pub(crate) fn problems(app: &App, wanted: &[String], live: &[LiveService]) -> Vec<String> {
    let id = app.id.to_string();
    let mine: HashMap<&str, &LiveService> =
        live.iter().filter(|s| s.labels.get(APP_LABEL) == Some(&id)).map(|s| (s.name.as_str(), s)).collect();
    let mut out = Vec::new();
    for name in wanted {
        match mine.get(format!("{}_{name}", app.name).as_str()) {
            None => out.push(format!("{name} is missing from the swarm")),
            // A rolling update is a job's business (or swarm's, when started behind Berth's back).
            Some(s) if matches!(s.update_state.as_str(), "updating" | "rollback_started") => {}
            // A job runs to completion: no tasks between runs is its normal state (its runs'
            // outcomes are on the Jobs tab).
            Some(s) if s.job_iteration.is_some() => {}
            Some(s) if s.running < s.desired => out.push(format!("{name} runs {} of {}", s.running, s.desired)),
            Some(_) => {}
        }
    }
    out
}

/// The apps' health follows each reconcile pass, with the manager that answered it (see
/// [`Follower`]).
pub(crate) struct Health;

impl Follower for Health {
    fn after_pass<'a>(&'a self, berth: &'a Berth, cluster_id: i64, manager: &'a Engine) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = berth.reconcile_apps(cluster_id, manager).await {
                tracing::debug!(cluster = cluster_id, error = %e, "could not reconcile the apps");
            }
        })
    }
}

impl Berth {
    /// One pass over the running apps of a cluster, with the services `manager` lists.
    pub(crate) async fn reconcile_apps(&self, cluster_id: i64, manager: &Engine) -> Result<()> {
        let apps: Vec<App> = self
            .store
            .apps(Some(cluster_id))
            .await?
            .into_iter()
            .filter(|a| matches!(a.status.as_str(), "running" | "degraded"))
            .collect();
        if apps.is_empty() {
            return Ok(());
        }
        let installation = self.installation().await?;
        let live = manager.services_labelled(&crate::clusters::cluster::owned_by(&installation, cluster_id)).await?;
        let now = now_ms();
        for app in apps {
            let wanted = self.app_service_names(&app).await?;
            let found = problems(&app, &wanted, &live);
            let passes = {
                let mut short = self.app_watch.short.lock().unwrap_or_else(|p| p.into_inner());
                if found.is_empty() {
                    short.remove(&app.id);
                    0
                } else {
                    let n = short.entry(app.id).or_insert(0);
                    *n += 1;
                    *n
                }
            };
            let (status, message) = match (found.is_empty(), passes) {
                (true, _) => ("running", String::new()),
                (false, n) if n >= 2 => ("degraded", found.join("; ")),
                // Seen once: wait for the next pass before saying so.
                (false, _) => continue,
            };
            if status == app.status && message == app.message {
                continue;
            }
            // The change and the event that tells of it are written together: whoever sees the
            // new status finds its event.
            let event = (status != app.status).then(|| NewEvent {
                cluster_id,
                ts: now,
                kind: "app".into(),
                action: status.into(),
                app: app.name.clone(),
                service: String::new(),
                subject: app.name.clone(),
                severity: if status == "running" { "info" } else { "warning" },
                message: if status == "running" {
                    format!("app {} runs every task again", app.name)
                } else {
                    format!("app {} is degraded: {message}", app.name)
                },
            });
            self.store.app_set_status_noting(app.id, &app.status, status, &message, now, event.as_ref()).await?;
        }
        Ok(())
    }

    /// The services of an app's current version (cached per version).
    async fn app_service_names(&self, app: &App) -> Result<Vec<String>> {
        let key = (app.id, app.version);
        if let Some(names) = self.app_watch.services.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(names.clone());
        }
        let names = self.app_spec(app).await?.services.into_keys().collect::<Vec<_>>();
        let mut cache = self.app_watch.services.lock().unwrap_or_else(|p| p.into_inner());
        // Older versions of this app are not needed any more.
        cache.retain(|(id, _), _| *id != app.id);
        cache.insert(key, names.clone());
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(name: &str, app: i64, running: u64, desired: u64, update: &str) -> LiveService {
        LiveService {
            id: name.into(),
            name: name.into(),
            version: 1,
            labels: [(APP_LABEL.to_string(), app.to_string())].into(),
            spec: Default::default(),
            volumes: Default::default(),
            running,
            desired,
            update_state: update.into(),
            update_message: String::new(),
            job_iteration: None,
        }
    }

    #[test]
    fn what_is_wrong_with_an_app() {
        let app = App::for_test(7, "shop");
        let wanted = vec!["web".to_string(), "db".to_string()];
        let cases: &[(&[LiveService], &[&str])] = &[
            (&[live("shop_web", 7, 3, 3, ""), live("shop_db", 7, 1, 1, "completed")], &[]),
            (&[live("shop_web", 7, 2, 3, ""), live("shop_db", 7, 1, 1, "")], &["web runs 2 of 3"]),
            (&[live("shop_web", 7, 3, 3, "")], &["db is missing from the swarm"]),
            // Another app's service of the same name does not count.
            (&[live("shop_web", 8, 3, 3, ""), live("shop_db", 7, 1, 1, "")], &["web is missing from the swarm"]),
            // A rolling update is not a problem while it runs.
            (&[live("shop_web", 7, 1, 3, "updating"), live("shop_db", 7, 1, 1, "")], &[]),
            (&[live("shop_web", 7, 0, 0, ""), live("shop_db", 7, 1, 1, "")], &[]),
        ];
        for (services, want) in cases {
            assert_eq!(problems(&app, &wanted, services), *want, "{services:?}");
        }
    }
}
