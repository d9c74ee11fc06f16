//! What an update would do, before anyone confirms it: per service, whether its tasks are replaced
//! (and which fields changed), it is changed in place (replicas, update settings, service labels:
//! swarm keeps the tasks), it keeps running as it is, or it is added or removed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::authz::Actor;
use crate::error::Result;
use crate::Berth;

/// One service's fate in an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePreview {
    pub service: String,
    /// `replaced`, `in_place`, `unchanged`, `added` or `removed`.
    pub change: String,
    /// The fields that differ (`image: web:1 → web:2`, `environment (values not shown)`).
    pub fields: Vec<String>,
}

/// Fields swarm changes without replacing the tasks.
const IN_PLACE: &[&str] = &["replicas", "mode", "update", "service_labels"];

/// Compares the services of two specs as deployed (overrides applied, names resolved).
pub(crate) fn compare(current: &Plan, next: &Plan) -> Vec<ServicePreview> {
    let by_name = |p: &Plan| -> BTreeMap<String, compose::ServiceSpec> {
        p.deploys.iter().map(|d| (d.alias.clone(), crate::engine::normalise(d))).collect()
    };
    let (old, new) = (by_name(current), by_name(next));
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let (change, fields) = match (old.get(name), new.get(name)) {
                (None, Some(_)) => ("added", Vec::new()),
                (Some(_), None) => ("removed", Vec::new()),
                (Some(o), Some(n)) => {
                    let fields = super::drift::changes(o, n);
                    let replaced = fields.iter().any(|f| !IN_PLACE.iter().any(|k| f.starts_with(k)));
                    let change = if fields.is_empty() {
                        "unchanged"
                    } else if replaced {
                        "replaced"
                    } else {
                        "in_place"
                    };
                    (change, fields)
                }
                (None, None) => unreachable!("a name comes from one of the two"),
            };
            ServicePreview { service: name.clone(), change: change.into(), fields }
        })
        .collect()
}

impl Berth {
    /// What updating app `app_id` to `compose_text` with `vars` (unset ones keep their values, as
    /// an update does) would do to each service: for those who may update it (operators), since the
    /// changed fields can carry variable values (a command that uses one).
    pub async fn preview_update(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Vec<ServicePreview>> {
        let app = self.visible_app(actor, app_id, "app.preview", false).await?;
        crate::authz::authorize(actor, crate::authz::Permission::AppOperate(app.cluster_id))?;
        let current = self.current_version(&app).await?;
        let current_vars = self.open_vars(&current)?;
        let mut next_vars = vars.clone();
        for (k, v) in &current_vars {
            next_vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let before = self.parse_compose(&current.compose, &current_vars).await?.spec;
        let after = self.parse_compose(compose_text, &next_vars).await?.spec;
        let installation = self.installation().await?;
        let overrides = app.overrides();
        let now = Plan::new(&installation, &app, app.version, before, &overrides);
        // A new version starts from the template: changes made by hand (scale, resources) go.
        let next = Plan::new(&installation, &app, app.version + 1, after, &Default::default());
        Ok(compare(&now, &next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        let spec = compose::parse(text, &Default::default()).unwrap().spec;
        Plan::new("inst", &crate::store::App::for_test(1, "shop"), 1, spec, &Default::default())
    }

    #[test]
    fn each_service_says_whether_its_tasks_are_replaced_and_why() {
        let before = plan(
            "services:\n  web:\n    image: web:1\n  api:\n    image: api:1\n    deploy:\n      replicas: 1\n  db:\n    image: db:1\n  old:\n    image: old:1\n",
        );
        let after = plan(
            "services:\n  web:\n    image: web:2\n  api:\n    image: api:1\n    deploy:\n      replicas: 3\n  db:\n    image: db:1\n  new:\n    image: new:1\n",
        );
        let got: Vec<(String, String, Vec<String>)> =
            compare(&before, &after).into_iter().map(|p| (p.service, p.change, p.fields)).collect();
        let find = |s: &str| got.iter().find(|g| g.0 == s).unwrap().clone();
        assert_eq!(find("web").1, "replaced");
        assert_eq!(find("web").2, ["image: web:1 → web:2"]);
        assert_eq!(find("api").2, ["replicas: 1 → 3"]);
        assert_eq!(find("api").1, "in_place", "{got:?}");
        assert_eq!(find("db").1, "unchanged");
        assert_eq!(find("old").1, "removed");
        assert_eq!(find("new").1, "added");
    }
}
