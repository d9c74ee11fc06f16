//! The template catalog: saved Compose templates with a description, the variables they declare (read
//! from the text: `${NAME}`, `${NAME:-default}`, `${NAME:?message}`) and every saved version.
//! Everyone signed in may read the catalog and deploy from it (deploying is authorized per cluster);
//! admins save and delete templates.

use std::collections::BTreeMap;

use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::Berth;

pub use crate::store::{Template, TemplateVersion};

impl Template {
    /// The variables the template uses, in order of first use.
    pub fn variables(&self) -> Vec<compose::Variable> {
        compose::variables(&self.compose)
    }
}

/// A template as typed into the catalog editor.
#[derive(Clone, Debug, Default)]
pub struct TemplateInput {
    pub name: String,
    pub description: String,
    pub compose: String,
}

/// Checks a template for saving: it must parse when each variable has its default, or a stand-in
/// value for those without one (the values come at deploy time). Errors name the field and line.
pub fn check_template(compose_text: &str) -> Result<Vec<compose::Diagnostic>> {
    let vars: BTreeMap<String, String> = compose::variables(compose_text)
        .into_iter()
        .map(|v| {
            let value = v.default.clone().unwrap_or_else(|| "1".into());
            (v.name, value)
        })
        .collect();
    match compose::parse(compose_text, &vars) {
        Ok(parsed) => Ok(parsed.warnings),
        Err(diagnostics) => Err(crate::apps::app::invalid_compose(&diagnostics)),
    }
}

impl Berth {
    pub async fn templates(&self, actor: &Actor) -> Result<Vec<Template>> {
        authorize(actor, Permission::TemplateRead)?;
        self.store.templates().await
    }

    pub async fn template(&self, actor: &Actor, id: i64) -> Result<Template> {
        authorize(actor, Permission::TemplateRead)?;
        self.store.template(id).await?.ok_or_else(|| Error::NotFound(format!("template {id}")))
    }

    pub async fn template_versions(&self, actor: &Actor, id: i64) -> Result<Vec<TemplateVersion>> {
        authorize(actor, Permission::TemplateRead)?;
        self.store.template_versions(id).await
    }

    /// Checks a template's text for the catalog editor: errors and warnings by line, its variables.
    pub async fn check_template(&self, actor: &Actor, compose_text: &str) -> Result<crate::apps::app::Check> {
        authorize(actor, Permission::TemplateRead)?;
        let text = compose_text.to_string();
        let (variables, diagnostics, services) = self
            .cpu(move || {
                let variables = compose::variables(&text);
                // Each variable as its default, or a stand-in where it has none.
                let vars = variables
                    .iter()
                    .map(|v| (v.name.clone(), v.default.clone().unwrap_or_else(|| "1".into())))
                    .collect();
                match compose::parse(&text, &vars) {
                    Ok(parsed) => (variables, parsed.warnings, parsed.spec.services.keys().cloned().collect()),
                    Err(diagnostics) => (variables, diagnostics, Vec::new()),
                }
            })
            .await?;
        Ok(crate::apps::app::Check { diagnostics, violations: Vec::new(), variables, services })
    }

    /// Saves a new template (`id: None`) or a new version of one. Returns its id.
    pub async fn save_template(&self, actor: &Actor, id: Option<i64>, input: &TemplateInput) -> Result<i64> {
        let op = Op {
            action: "template.save",
            permission: Permission::TemplateManage,
            target: id.map_or_else(|| input.name.clone(), |id| id.to_string()),
            params: json!({ "name": input.name }),
        };
        self.mutate(actor, op, |user| async move {
            let name = crate::clusters::cluster::validate_name("name", &input.name, 64)?;
            let description = input.description.trim();
            if description.chars().count() > 500 {
                return Err(Error::invalid("description", "at most 500 characters"));
            }
            if let Some(id) = id {
                self.store.template(id).await?.ok_or_else(|| Error::NotFound(format!("template {id}")))?;
            }
            if self.store.template_name_taken(&name, id).await? {
                return Err(Error::invalid("name", format!("a template named {name} exists already")));
            }
            let text = input.compose.clone();
            self.cpu(move || check_template(&text)).await??;
            self.store.template_save(id, &name, description, &input.compose, &user.username, now_ms()).await
        })
        .await
    }

    pub async fn delete_template(&self, actor: &Actor, id: i64) -> Result<()> {
        let op = Op {
            action: "template.delete",
            permission: Permission::TemplateManage,
            target: id.to_string(),
            params: json!({}),
        };
        self.mutate(actor, op, |_| async move {
            if !self.store.template_delete(id).await? {
                return Err(Error::NotFound(format!("template {id}")));
            }
            Ok(())
        })
        .await
    }
}
