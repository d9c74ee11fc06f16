//! An app's versions: each deploy, update, rollback or adoption is a version with the template
//! and its variable values, the values sealed at rest; diffs between versions show secret-looking
//! values as keyed fingerprints, never as text.

use std::collections::BTreeMap;

use crate::authz::Actor;
use crate::error::{Error, Result};
use crate::store::{App, AppVersion};
use crate::Berth;

#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub version: i64,
    pub action: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

/// One line of a diff between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    /// `' '`, `'+'` or `'-'`.
    pub tag: char,
    pub text: String,
}

/// Variable names whose values are never shown or recorded.
pub(crate) fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "token", "key", "passphrase", "credential"].iter().any(|s| n.contains(s))
}

impl Berth {
    pub(crate) fn seal_vars(&self, vars: &BTreeMap<String, String>) -> Result<String> {
        self.sealer()?.seal(serde_json::to_string(vars)?.as_bytes())
    }

    pub(crate) fn open_vars(&self, v: &AppVersion) -> Result<BTreeMap<String, String>> {
        let plain = self.sealer()?.unseal(&v.vars)?;
        Ok(serde_json::from_slice(&plain)?)
    }

    pub(crate) async fn current_version(&self, app: &App) -> Result<AppVersion> {
        self.store
            .app_version(app.id, app.version)
            .await?
            .ok_or_else(|| Error::NotFound(format!("version {} of app {}", app.version, app.name)))
    }

    /// The lines that differ between two versions' templates (variables: names only, values of
    /// secret-looking ones never).
    pub async fn app_version_diff(&self, actor: &Actor, app_id: i64, from: i64, to: i64) -> Result<Vec<DiffLine>> {
        self.visible_app(actor, app_id, "app.read", false).await?;
        let get = |v: i64| async move {
            self.store.app_version(app_id, v).await?.ok_or_else(|| Error::NotFound(format!("version {v}")))
        };
        let (a, b) = (get(from).await?, get(to).await?);
        let render = |v: &AppVersion| -> Result<String> {
            let vars = self.open_vars(v)?;
            let mut text = v.compose.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("# variables\n");
            for (k, value) in vars {
                // A keyed fingerprint: changes show, but a viewer cannot confirm a guess of the value.
                let shown = if looks_secret(&k) {
                    format!("(secret, {})", self.sealer()?.fingerprint(value.as_bytes()))
                } else {
                    value
                };
                text.push_str(&format!("#   {k} = {shown}\n"));
            }
            Ok(text)
        };
        let (old, new) = (render(&a)?, render(&b)?);
        self.cpu(move || {
            let diff = similar::TextDiff::from_lines(&old, &new);
            diff.iter_all_changes()
                .map(|c| DiffLine {
                    tag: match c.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => ' ',
                    },
                    text: c.value().trim_end_matches('\n').to_string(),
                })
                .collect()
        })
        .await
    }
}
