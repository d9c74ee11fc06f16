//! Progressive releases driven by what the routers measure: each routing pass (under the cluster's
//! lease, so one replica drives a release) looks at the cluster's progressing releases and moves
//! each as [`decide`] says — starting a step's clock once every router serves its weight, judging
//! the new side's 5xx share and p99 latency over the step, stepping on, confirming after the last
//! step, or rolling back. Every move is an operation in the history (by `progressive-release`)
//! and an event of the app.

use serde_json::json;

use crate::apps::app::app_op;
use crate::apps::release::{decide, Decision, Measured, Progressive};
use crate::authz::Actor;
use crate::clock::now_ms;
use crate::error::Result;
use crate::store::ReleaseRow;
use crate::Berth;

/// Who the history names for the moves a progressive release makes by itself.
pub const ACTOR: &str = "progressive-release";

impl Berth {
    /// Moves on the progressing ones of the cluster's open releases `open` (read by this pass;
    /// each is read again, as the pass may have marked its weight served).
    pub(crate) async fn advance_releases(&self, open: &[ReleaseRow]) -> Result<()> {
        for r in open.iter().filter(|r| r.method == "progressive" && r.state == "progressing") {
            let Some(r) = self.store.release_by_id(r.id).await? else { continue };
            if r.state != "progressing" {
                continue;
            }
            if let Err(e) = self.advance_release(&r).await {
                tracing::warn!(release = r.id, error = %e, "a progressive release could not move on");
            }
        }
        Ok(())
    }

    async fn advance_release(&self, r: &ReleaseRow) -> Result<()> {
        let Ok(mut plan) = serde_json::from_str::<Progressive>(&r.plan) else { return Ok(()) };
        let app = self.app_row(r.app_id).await?;
        let served = r.served_weight == r.weight;
        let now = now_ms();
        let measured = if served && plan.step_at > 0 { self.new_side(r, &app.name, plan.step_at).await? } else { None };
        let system = Actor::system(ACTOR);
        match decide(&plan, served, now, measured) {
            Decision::Wait => {}
            Decision::Started => {
                plan.step_at = now;
                plan.next_at = now + plan.interval_s as i64 * 1000;
                self.store.release_set_plan(r.id, &serde_json::to_string(&plan)?, now).await?;
            }
            Decision::Step(weight) => {
                let said = said(measured, r.weight);
                let params = json!({ "app": app.id, "release": r.id, "weight": weight, "measured": said });
                let op = app_op("app.release.step", &app, app.name.clone(), params);
                self.mutate(&system, op, |_| async {
                    plan.step += 1;
                    plan.step_at = 0;
                    plan.next_at = 0;
                    self.store.release_set_plan(r.id, &serde_json::to_string(&plan)?, now).await?;
                    self.store.release_set_weight(r.id, i64::from(weight), now).await
                })
                .await?;
                self.release_event(&app, "release.step", "info", format!("{said}: new side moved to {weight} %")).await;
            }
            Decision::Confirm => {
                let msg = format!("{}: every step passed, confirming", said(measured, r.weight));
                self.release_event(&app, "release.passed", "info", msg).await;
                self.confirm_release(&system, app.id).await?;
            }
            Decision::RollBack(why) => {
                self.store.release_set_state(r.id, "progressing", &why, now).await?;
                self.release_event(&app, "release.failing", "error", format!("{why}: rolling back")).await;
                self.rollback_release(&system, app.id).await?;
            }
        }
        Ok(())
    }

    /// The new side's requests since `since` over every pair (the worst 5xx share and p99 of
    /// them, the requests summed); None when no collection has the new side yet.
    async fn new_side(&self, r: &ReleaseRow, app: &str, since: i64) -> Result<Option<Measured>> {
        let mut out: Option<Measured> = None;
        for (_, new) in r.pairs() {
            let Some(w) = self.side_window(r.cluster_id, app, &new, since).await? else { continue };
            let m = out.get_or_insert_with(Measured::default);
            m.requests += w.requests;
            m.err_5xx_pct = m.err_5xx_pct.max(w.err5xx_pct);
            m.p99_ms = m.p99_ms.max(w.p99_ms.unwrap_or(0.0));
        }
        Ok(out)
    }
}

/// What the new side did at `weight` %, as the history and the events say it.
fn said(m: Option<Measured>, weight: i64) -> String {
    match m {
        Some(m) if m.requests > 0 => format!(
            "at {weight} % the new side answered {} requests, {:.1} % 5xx, p99 {:.0} ms",
            m.requests, m.err_5xx_pct, m.p99_ms
        ),
        _ => format!("at {weight} % the new side had no requests"),
    }
}
