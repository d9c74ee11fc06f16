//! Swarm secrets and configs (files a service mounts): immutable, so a changed content is a new
//! object with a new name.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ConfigSpec, SecretSpec};
use bollard::query_parameters::{ListConfigsOptions, ListSecretsOptions};

use super::services::{ignore_missing, label_filter, Labelled};
use super::spec::to_map;
use super::{Engine, EngineError};

/// A secret or config as found: its id, and its spec's name and labels.
pub(super) type NameAndLabels = (Option<String>, Option<HashMap<String, String>>);

pub(super) fn labelled(id: Option<String>, spec: Option<NameAndLabels>) -> Labelled {
    let (name, labels) = spec.unwrap_or_default();
    Labelled {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        labels: labels.unwrap_or_default().into_iter().collect(),
    }
}

/// Secrets and configs are named `<stack>_<name>-<hash8>` (their content is immutable, so a changed
/// content is a new name); this is `<name>` again.
pub fn without_hash(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, hash)) if hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => base,
        _ => name,
    }
}

impl Engine {
    /// Creates a swarm secret (`config: false`) or config holding `data`.
    pub async fn swarm_file_create(
        &self,
        config: bool,
        name: &str,
        data: &[u8],
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        use base64::Engine as _;
        let docker = self.client()?;
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        let created = if config {
            let spec = ConfigSpec {
                name: Some(name.into()),
                labels: Some(to_map(labels)),
                data: Some(data),
                templating: None,
            };
            self.call("config create", docker.create_config(spec)).await.map(drop)
        } else {
            let spec = SecretSpec {
                name: Some(name.into()),
                labels: Some(to_map(labels)),
                data: Some(data),
                ..Default::default()
            };
            self.call("secret create", docker.create_secret(spec)).await.map(drop)
        };
        match created {
            // Names carry a hash of the content: one that exists already holds the same data.
            Err(e) if e.status() == Some(409) => Ok(()),
            other => other,
        }
    }

    /// Secrets (`config: false`) or configs carrying all of `labels`.
    pub async fn swarm_files_with(&self, config: bool, labels: &[String]) -> Result<Vec<Labelled>, EngineError> {
        let docker = self.client()?;
        let filters = label_filter(labels);
        if config {
            let list = self
                .read("config list", || docker.list_configs(Some(ListConfigsOptions { filters: filters.clone() })))
                .await?;
            Ok(list.into_iter().map(|c| labelled(c.id, c.spec.map(|s| (s.name, s.labels)))).collect())
        } else {
            let list = self
                .read("secret list", || docker.list_secrets(Some(ListSecretsOptions { filters: filters.clone() })))
                .await?;
            Ok(list.into_iter().map(|c| labelled(c.id, c.spec.map(|s| (s.name, s.labels)))).collect())
        }
    }

    /// Removes a secret or config; a missing one is fine, one still in use is an error.
    pub async fn swarm_file_remove(&self, config: bool, id: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        if config {
            ignore_missing(self.call("config remove", docker.delete_config(id)).await)
        } else {
            ignore_missing(self.call("secret remove", docker.delete_secret(id)).await)
        }
    }
}
