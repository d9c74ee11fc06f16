//! The template catalog: templates and their versions.

use super::Store;
use crate::error::Result;
use crate::template::{Template, TemplateVersion};

const COLUMNS: &str = "id, name, description, compose, version, created_by, created_at, updated_at";

impl Store {
    pub async fn templates(&self) -> Result<Vec<Template>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM templates ORDER BY name")).fetch_all(&self.pool).await?)
    }

    pub async fn template(&self, id: i64) -> Result<Option<Template>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM templates WHERE id = $1"))
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
