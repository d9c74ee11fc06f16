//! Containers, networks and images on one engine — what the `local` provider needs to run
//! Docker-in-Docker node containers, and what copies images between engines.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
    StartContainerOptions,
};
use futures::{StreamExt, TryStreamExt};

use super::{Engine, EngineError};

/// Images are large; moving one gets more time than an ordinary call.
const IMAGE_CALL_LIMIT: Duration = Duration::from_secs(300);

/// A node container to run: a dockerd in a container, reachable through a unix socket in `socket_dir`.
#[derive(Clone, Debug)]
pub struct NodeContainerSpec {
    /// The container's name on the local engine.
    pub name: String,
    /// The node's hostname, which becomes its swarm hostname.
    pub hostname: String,
    pub image: String,
    pub network: String,
    /// Host directory bound at `/run/node`, where the node's dockerd puts its socket.
    pub socket_dir: String,
    /// The image runs the host's own docker binaries: bind the host's `/usr` read-only.
    pub host_binaries: bool,
    pub labels: BTreeMap<String, String>,
}

/// A container as Berth needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeContainer {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// Made but not started yet (`created`): it has no log to read yet.
    pub created: bool,
    /// The address on its network (empty when stopped).
    pub ip: String,
    pub labels: BTreeMap<String, String>,
}

/// A filter on all of `labels` (`key=value` each).
fn label_filter(labels: &[String]) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([("label".to_string(), labels.to_vec())]))
}

/// Treats "no such …" as done, for idempotent removal.
fn ignore_missing(r: Result<(), EngineError>) -> Result<(), EngineError> {
    match r {
        Err(e) if e.status() == Some(404) => Ok(()),
        other => other,
    }
}

impl Engine {
    /// The image's environment, or `None` when the engine does not have the image.
    pub async fn image_env(&self, image: &str) -> Result<Option<Vec<String>>, EngineError> {
        let docker = self.client()?;
        match self.call("image inspect", docker.inspect_image(image)).await {
            Ok(inspect) => Ok(Some(inspect.config.and_then(|c| c.env).unwrap_or_default())),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates image `repo:tag` from a root filesystem tarball (`docker import`), applying
    /// Dockerfile-style `changes` (ENTRYPOINT, ENV, VOLUME, …).
    pub async fn import_rootfs(
        &self,
        repo: &str,
        tag: &str,
        rootfs: Vec<u8>,
        changes: Vec<String>,
    ) -> Result<(), EngineError> {
        let docker = self.client()?;
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.into()),
            tag: Some(tag.into()),
            changes,
            ..Default::default()
        };
        let stream = docker.create_image(Some(options), Some(bollard::body_full(rootfs.into())), None);
        self.call_within("image import", IMAGE_CALL_LIMIT, stream.try_collect::<Vec<_>>()).await.map(drop)
    }

    /// Copies `image` from this engine into `target` (`docker save | docker load`), streaming.
    pub async fn copy_image_to(&self, image: &str, target: &Engine) -> Result<(), EngineError> {
        let source = self.client()?;
        let sink = target.client()?;
        let tarball = source.export_image(image).map(|chunk| chunk.map_err(std::io::Error::other));
        let load = sink
            .import_image_stream(bollard::query_parameters::ImportImageOptions::default(), tarball, None)
            .try_collect::<Vec<_>>();
        target.call_within("image load", IMAGE_CALL_LIMIT, load).await.map(drop)
    }

    pub async fn network_create(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<String, EngineError> {
        let docker = self.client()?;
        let request = NetworkCreateRequest {
            name: name.into(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let created = self.call("network create", docker.create_network(request)).await?;
        Ok(created.id)
    }

    /// Networks carrying all of `labels` (`key=value` each): `(id, name)`.
    pub async fn networks_labelled(&self, labels: &[String]) -> Result<Vec<(String, String)>, EngineError> {
        let docker = self.client()?;
        let options = ListNetworksOptions { filters: label_filter(labels) };
        let networks = self.call("network list", docker.list_networks(Some(options))).await?;
        Ok(networks.into_iter().map(|n| (n.id.unwrap_or_default(), n.name.unwrap_or_default())).collect())
    }

    /// Removes a network; a missing one is fine.
    pub async fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        ignore_missing(self.call("network remove", docker.remove_network(name)).await)
    }

    /// Creates and starts a node container (Docker-in-Docker without `--privileged`, which this kind
    /// of host refuses: all capabilities but SYS_RESOURCE, no seccomp/AppArmor confinement, all
    /// devices, `--init` so exited shims are reaped, DNS pointed nowhere so registry lookups fail fast).
    pub async fn node_container_start(&self, spec: &NodeContainerSpec) -> Result<NodeContainer, EngineError> {
        let docker = self.client()?;
        let mut binds = vec![format!("{}:/run/node", spec.socket_dir)];
        if spec.host_binaries {
            binds.push("/usr:/usr:ro".into());
            binds.push("/etc/alternatives:/etc/alternatives:ro".into());
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.hostname.clone()),
            cmd: Some(
                [
                    "-H",
                    "unix:///var/run/docker.sock",
                    "-H",
                    "unix:///run/node/docker.sock",
                    "--storage-driver",
                    "overlay2",
                ]
                .map(String::from)
                .to_vec(),
            ),
            env: Some(vec!["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1".into()]),
            labels: Some(spec.labels.clone().into_iter().collect()),
            host_config: Some(HostConfig {
                init: Some(true),
                dns: Some(vec!["127.0.0.1".into()]),
                cap_add: Some(vec!["ALL".into()]),
                cap_drop: Some(vec!["SYS_RESOURCE".into()]),
                security_opt: Some(["seccomp=unconfined", "apparmor=unconfined"].map(String::from).to_vec()),
                // What the CLI's `--security-opt systempaths=unconfined` means: nothing masked or read-only
                // under /proc and /sys, which the inner dockerd needs.
                masked_paths: Some(Vec::new()),
                readonly_paths: Some(Vec::new()),
                device_cgroup_rules: Some(vec!["a *:* rwm".into()]),
                binds: Some(binds),
                network_mode: Some(spec.network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let created = self.call("container create", docker.create_container(Some(options), body)).await?;
        self.call("container start", docker.start_container(&created.id, None::<StartContainerOptions>)).await?;
        self.container(&created.id).await?.ok_or_else(|| EngineError::Api {
            what: "container inspect",
            status: 404,
            message: format!("container {} vanished right after it started", spec.name),
        })
    }

    /// A container by name or id, or `None`.
    pub async fn container(&self, name: &str) -> Result<Option<NodeContainer>, EngineError> {
        let docker = self.client()?;
        let inspect = match self.call("container inspect", docker.inspect_container(name, None)).await {
            Ok(inspect) => inspect,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|nets| nets.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
            .unwrap_or_default();
        Ok(Some(NodeContainer {
            id: inspect.id.unwrap_or_default(),
            name: inspect.name.unwrap_or_default().trim_start_matches('/').to_string(),
            created: inspect.state.as_ref().and_then(|s| s.status).is_some_and(|s| s.to_string() == "created"),
            running: inspect.state.and_then(|s| s.running).unwrap_or(false),
            ip,
            labels: inspect.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect(),
        }))
    }

    /// Containers (running or not) carrying all of `labels` (`key=value` each).
    pub async fn containers_labelled(&self, labels: &[String]) -> Result<Vec<NodeContainer>, EngineError> {
        let docker = self.client()?;
        let options = ListContainersOptions { all: true, filters: label_filter(labels), ..Default::default() };
        let list = self.call("container list", docker.list_containers(Some(options))).await?;
        Ok(list
            .into_iter()
            .map(|c| NodeContainer {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                created: c.state.as_ref().is_some_and(|s| s.to_string() == "created"),
                running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
                ip: c
                    .network_settings
                    .and_then(|n| n.networks)
                    .and_then(|nets| nets.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
                    .unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    /// Removes a container, running or not, with its anonymous volumes; a missing one is fine.
    pub async fn container_remove(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        ignore_missing(self.call("container remove", docker.remove_container(name, Some(options))).await)
    }
}
