//! The tables of `apps/`: apps and their versions, the template catalog and its versions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct App {
    pub id: i64,
    pub cluster_id: i64,
    /// The stack namespace.
    pub name: String,
    /// `deploying`, `running`, `stopped`, `failed`, `deleting`.
    pub status: String,
    pub message: String,
    pub version: i64,
    pub template_id: Option<i64>,
    /// The overrides as JSON (see [`App::overrides`]).
    pub(crate) overrides: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl App {
    pub fn overrides(&self) -> Overrides {
        serde_json::from_str(&self.overrides).unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn for_test(id: i64, name: &str) -> App {
        App {
            id,
            cluster_id: 1,
            name: name.into(),
            status: "running".into(),
            message: String::new(),
            version: 1,
            template_id: None,
            overrides: "{}".into(),
            created_by: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AppVersion {
    pub app_id: i64,
    pub version: i64,
    pub compose: String,
    /// The variable values, sealed (see `Berth::seal_vars`).
    pub(crate) vars: String,
    /// `create`, `update`, `rollback`, `adopt`.
    pub action: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

/// Changes made to an app since its current version; a new version clears them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default)]
    pub replicas: BTreeMap<String, u64>,
    #[serde(default)]
    pub resources: BTreeMap<String, compose::Resources>,
    #[serde(default)]
    pub stopped: bool,
}

const COLUMNS: &str =
    "id, cluster_id, name, status, message, version, template_id, overrides, created_by, created_at, updated_at";
const VERSION_COLUMNS: &str = "app_id, version, compose, vars, action, note, created_by, created_at";

/// A version about to be written.
pub struct NewVersion<'a> {
    pub compose: &'a str,
    /// Sealed variable values.
    pub vars: &'a str,
    pub action: &'a str,
    pub note: &'a str,
    pub by: &'a str,
}

impl Store {
    /// Inserts an app with its first version; `None` when the cluster has an app of that name.
    pub async fn app_insert(
        &self,
        cluster_id: i64,
        name: &str,
        status: &str,
        template_id: Option<i64>,
        first: &NewVersion<'_>,
        now: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.write().await?;
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE cluster_id = $1 AND name = $2")
            .bind(cluster_id)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        if taken > 0 {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO apps (cluster_id, name, status, version, template_id, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $6, $6) RETURNING id",
        )
        .bind(cluster_id)
        .bind(name)
        .bind(status)
        .bind(template_id)
        .bind(first.by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        insert_version(&mut tx, id, 1, first, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Adds the next version and makes it current; clears the overrides (the new version is the truth).
    pub async fn app_add_version(&self, app_id: i64, v: &NewVersion<'_>, status: &str, now: i64) -> Result<i64> {
        let mut tx = self.write().await?;
        let version: i64 = sqlx::query_scalar(
            "UPDATE apps SET version = version + 1, status = $2, message = '', overrides = '{}', updated_at = $3 \
             WHERE id = $1 RETURNING version",
        )
        .bind(app_id)
        .bind(status)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        insert_version(&mut tx, app_id, version, v, now).await?;
        tx.commit().await?;
        Ok(version)
    }

    pub async fn apps(&self, cluster_id: Option<i64>) -> Result<Vec<App>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM apps WHERE ($1 = 0 OR cluster_id = $1) ORDER BY cluster_id, name"
        ))
        .bind(cluster_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn app(&self, id: i64) -> Result<Option<App>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM apps WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn app_set_status(&self, id: i64, status: &str, message: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE apps SET status = $2, message = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(message)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets an app's status only if it still is `from` (the reconciler must not write over a job that
    /// started meanwhile). The event that tells of the change, if any, is written in the same
    /// transaction: a reader who sees the new status finds its event too.
    pub async fn app_set_status_noting(
        &self,
        id: i64,
        from: &str,
        status: &str,
        message: &str,
        now: i64,
        event: Option<&super::NewEvent>,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE apps SET status = $3, message = $4, updated_at = $5 WHERE id = $1 AND status = $2")
                .bind(id)
                .bind(from)
                .bind(status)
                .bind(message)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(());
        }
        if let Some(event) = event {
            super::observe::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn app_set_overrides(&self, id: i64, overrides: &Overrides, now: i64) -> Result<()> {
        sqlx::query("UPDATE apps SET overrides = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(serde_json::to_string(overrides)?)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn app_delete(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM apps WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn app_versions(&self, app_id: i64) -> Result<Vec<AppVersion>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM app_versions WHERE app_id = $1 ORDER BY version DESC"
        ))
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn app_version(&self, app_id: i64, version: i64) -> Result<Option<AppVersion>> {
        Ok(sqlx::query_as(&format!("SELECT {VERSION_COLUMNS} FROM app_versions WHERE app_id = $1 AND version = $2"))
            .bind(app_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?)
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_id: i64,
    version: i64,
    v: &NewVersion<'_>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO app_versions (app_id, version, compose, vars, action, note, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(app_id)
    .bind(version)
    .bind(v.compose)
    .bind(v.vars)
    .bind(v.action)
    .bind(v.note)
    .bind(v.by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ----- The template catalog: templates and their versions -----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub compose: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TemplateVersion {
    pub template_id: i64,
    pub version: i64,
    pub description: String,
    pub compose: String,
    pub created_by: String,
    pub created_at: i64,
}

const TEMPLATE_COLUMNS: &str = "id, name, description, compose, version, created_by, created_at, updated_at";

impl Store {
    pub async fn templates(&self) -> Result<Vec<Template>> {
        Ok(sqlx::query_as(&format!("SELECT {TEMPLATE_COLUMNS} FROM templates ORDER BY name"))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn template(&self, id: i64) -> Result<Option<Template>> {
        Ok(sqlx::query_as(&format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn template_name_taken(&self, name: &str, except: Option<i64>) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM templates WHERE name = $1 AND id <> $2")
            .bind(name)
            .bind(except.unwrap_or(0))
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Inserts a template (version 1) or saves a new version of one, in one transaction.
    pub async fn template_save(
        &self,
        id: Option<i64>,
        name: &str,
        description: &str,
        compose: &str,
        by: &str,
        now: i64,
    ) -> Result<i64> {
        let mut tx = self.write().await?;
        let (id, version): (i64, i64) = match id {
            None => {
                let id = sqlx::query_scalar(
                    "INSERT INTO templates (name, description, compose, version, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, 1, $4, $5, $5) RETURNING id",
                )
                .bind(name)
                .bind(description)
                .bind(compose)
                .bind(by)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (id, 1)
            }
            Some(id) => {
                let version: i64 = sqlx::query_scalar(
                    "UPDATE templates SET name = $2, description = $3, compose = $4, version = version + 1, \
                     updated_at = $5 WHERE id = $1 RETURNING version",
                )
                .bind(id)
                .bind(name)
                .bind(description)
                .bind(compose)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (id, version)
            }
        };
        sqlx::query(
            "INSERT INTO template_versions (template_id, version, description, compose, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(version)
        .bind(description)
        .bind(compose)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn template_versions(&self, id: i64) -> Result<Vec<TemplateVersion>> {
        Ok(sqlx::query_as(
            "SELECT template_id, version, description, compose, created_by, created_at FROM template_versions \
             WHERE template_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn template_delete(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM templates WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A release of an app (see `migrations/*/0016_releases.sql`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: i64,
    pub app_id: i64,
    pub cluster_id: i64,
    pub from_version: i64,
    pub to_version: i64,
    pub method: String,
    /// `starting`, `awaiting`, `confirming`, `rolling_back` (open), `confirmed`, `rolled_back`,
    /// `failed` (open: it can still be rolled back).
    pub state: String,
    /// JSON `[[old, new], ...]`.
    pub pairs: String,
    pub weight: i64,
    pub served_weight: i64,
    pub plan: String,
    pub message: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ReleaseRow {
    /// Whether the release still holds the app (both sides may run).
    pub fn open(&self) -> bool {
        !matches!(self.state.as_str(), "confirmed" | "rolled_back")
    }

    /// The (old, new) service pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.pairs).unwrap_or_default()
    }
}

const RELEASE_COLUMNS: &str = "id, app_id, cluster_id, from_version, to_version, method, state, pairs, weight, \
                               served_weight, plan, message, created_by, created_at, updated_at";

/// A release about to be written.
pub struct NewRelease<'a> {
    pub app_id: i64,
    pub cluster_id: i64,
    pub from_version: i64,
    pub to_version: i64,
    pub method: &'a str,
    pub pairs: &'a [(String, String)],
    pub plan: &'a str,
    pub by: &'a str,
}

impl Store {
    pub async fn release_insert(&self, r: &NewRelease<'_>, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO releases (app_id, cluster_id, from_version, to_version, method, state, pairs, plan, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'starting', $6, $7, $8, $9, $9) \
             RETURNING id",
        )
        .bind(r.app_id)
        .bind(r.cluster_id)
        .bind(r.from_version)
        .bind(r.to_version)
        .bind(r.method)
        .bind(serde_json::to_string(r.pairs).unwrap_or_default())
        .bind(r.plan)
        .bind(r.by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// An app's releases, newest first.
    pub async fn releases(&self, app_id: i64) -> Result<Vec<ReleaseRow>> {
        Ok(sqlx::query_as(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE app_id = $1 ORDER BY id DESC"))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn release_by_id(&self, id: i64) -> Result<Option<ReleaseRow>> {
        Ok(sqlx::query_as(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The app's open release, if any.
    pub async fn release_open(&self, app_id: i64) -> Result<Option<ReleaseRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE app_id = $1 \
             AND state NOT IN ('confirmed', 'rolled_back') ORDER BY id DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The open releases of a cluster's apps (what the route table splits between sides).
    pub async fn releases_open(&self, cluster_id: i64) -> Result<Vec<ReleaseRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE cluster_id = $1 \
             AND state NOT IN ('confirmed', 'rolled_back') ORDER BY id"
        ))
        .bind(cluster_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn release_set_state(&self, id: i64, state: &str, message: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE releases SET state = $2, message = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(message)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets the new side's share; the routers have not served it yet.
    pub async fn release_set_weight(&self, id: i64, weight: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE releases SET weight = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(weight)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the share every router that answers serves (written by the routing pass).
    pub async fn release_served(&self, id: i64, weight: i64) -> Result<()> {
        sqlx::query("UPDATE releases SET served_weight = $2 WHERE id = $1 AND served_weight <> $2")
            .bind(id)
            .bind(weight)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn release_set_plan(&self, id: i64, plan: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE releases SET plan = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(plan)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
