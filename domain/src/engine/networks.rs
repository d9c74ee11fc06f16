//! Overlay networks of apps, and the names and ids of every network of a swarm.

use std::collections::{BTreeMap, HashMap};

use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::ListNetworksOptions;

use super::services::{label_filter, Labelled};
use super::spec::to_map;
use super::{Engine, EngineError};

impl Engine {
    /// Network ids by name and names by id, for translating attachments both ways.
    pub async fn network_names(&self) -> Result<HashMap<String, String>, EngineError> {
        let docker = self.client()?;
        let networks = self.read("network list", || docker.list_networks(None::<ListNetworksOptions>)).await?;
        let mut names = HashMap::new();
        for n in networks {
            if let (Some(id), Some(name)) = (n.id, n.name) {
                names.insert(id, name);
            }
        }
        Ok(names)
    }

    /// Creates an attachable overlay network of a stack.
    pub async fn overlay_create(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        internal: bool,
    ) -> Result<(), EngineError> {
        let docker = self.client()?;
        let request = NetworkCreateRequest {
            name: name.into(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            internal: Some(internal),
            labels: Some(to_map(labels)),
            ..Default::default()
        };
        match self.call("network create", docker.create_network(request)).await {
            Ok(_) => Ok(()),
            // Already there (a retried deploy): fine.
            Err(e) if e.status() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Networks carrying all of `labels`.
    pub async fn networks_with(&self, labels: &[String]) -> Result<Vec<Labelled>, EngineError> {
        let docker = self.client()?;
        let options = ListNetworksOptions { filters: label_filter(labels) };
        let networks = self.read("network list", || docker.list_networks(Some(options.clone()))).await?;
        Ok(networks
            .into_iter()
            .map(|n| Labelled {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }
}
