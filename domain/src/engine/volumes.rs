//! Named volumes on a node's engine: found by label, inspected for their driver, removed.

use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use super::services::{ignore_missing, label_filter};
use super::{Engine, EngineError};
use compose::VolumeSpec;

impl Engine {
    /// Volumes on this engine carrying all of `labels`.
    pub async fn volumes_with(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let docker = self.client()?;
        let options = ListVolumesOptions { filters: label_filter(labels) };
        let list = self.read("volume list", || docker.list_volumes(Some(options.clone()))).await?;
        Ok(list.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect())
    }

    /// A volume's driver and options on this engine, or `None` when it has no volume of that name.
    pub async fn volume_driver(&self, name: &str) -> Result<Option<VolumeSpec>, EngineError> {
        let docker = self.client()?;
        match self.call("volume inspect", docker.inspect_volume(name)).await {
            Ok(v) => Ok(Some(VolumeSpec {
                driver: Some(v.driver),
                driver_opts: v.options.into_iter().collect(),
                ..Default::default()
            })),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn volume_remove(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        ignore_missing(
            self.call("volume remove", docker.remove_volume(name, Some(RemoveVolumeOptions { force: false }))).await,
        )
    }
}
