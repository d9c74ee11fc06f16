//! Images on a node's engine: their ids, and pulls (bounded: a pull may take minutes).

use std::time::Duration;

use bollard::query_parameters::CreateImageOptions;
use futures::TryStreamExt;

use super::{Engine, EngineError};

/// Pulling an image may take a while.
const PULL_LIMIT: Duration = Duration::from_secs(300);

/// `repo[:tag]` → (repo, tag), `latest` when no tag (a `:` inside a registry host is not a tag).
fn split_image(image: &str) -> (String, String) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

impl Engine {
    /// The image's id (a content digest) on this engine, or `None` when it does not have it.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        let docker = self.client()?;
        match self.call("image inspect", docker.inspect_image(image)).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pulls `image` from its registry onto this engine.
    pub async fn image_pull(&self, image: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        let (repo, tag) = split_image(image);
        let options = CreateImageOptions { from_image: Some(repo), tag: Some(tag), ..Default::default() };
        let pull = docker.create_image(Some(options), None, None).try_collect::<Vec<_>>();
        self.call_within("image pull", PULL_LIMIT, pull).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_into_repo_and_tag() {
        assert_eq!(split_image("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(split_image("local/web:2"), ("local/web".into(), "2".into()));
        assert_eq!(split_image("reg:5000/web"), ("reg:5000/web".into(), "latest".into()));
        assert_eq!(split_image("reg:5000/web:3@sha256:ab"), ("reg:5000/web".into(), "3".into()));
    }
}
