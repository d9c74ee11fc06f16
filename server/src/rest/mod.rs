//! The REST API under `/api/v1` for CI systems and scripts: the same domain and authorization as the
//! console, authenticated with personal API tokens (`Authorization: Bearer berth_…`), never with
//! cookies, so a browser cannot be tricked into calling it. One module per noun, as `app/src/api/`;
//! each handler carries its own `#[utoipa::path]`, and the router and the OpenAPI document at
//! `/api/v1/openapi.json` are built from the same `routes!` lists, so neither can name a route the
//! other lacks.

mod apps;
mod clusters;
mod extract;
mod history;
mod idempotency;
mod observe;
mod triggers;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use domain::Error;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::{ApiActor, ApiError, ApiPath, ApiQuery, Body};

use crate::AppState;

/// Every REST route as (method, path in OpenAPI form). The router, the OpenAPI document and the
/// authorization matrix test are all checked against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/clusters/{id}"),
    ("GET", "/api/v1/clusters/{id}/nodes"),
    ("GET", "/api/v1/clusters/{id}/policy"),
    ("PUT", "/api/v1/clusters/{id}/policy"),
    ("GET", "/api/v1/clusters/{id}/routing"),
    ("PUT", "/api/v1/clusters/{id}/routing"),
    ("GET", "/api/v1/clusters/{id}/traffic"),
    ("POST", "/api/v1/clusters/{id}/certificates"),
    ("DELETE", "/api/v1/clusters/{id}/certificates/{cert}"),
    ("GET", "/api/v1/clusters/{id}/load-balancers"),
    ("POST", "/api/v1/clusters/{id}/load-balancers"),
    ("DELETE", "/api/v1/clusters/{id}/load-balancers/{balancer}"),
    ("GET", "/api/v1/clusters/{id}/rebalance"),
    ("POST", "/api/v1/clusters/{id}/rebalance"),
    ("POST", "/api/v1/apps"),
    ("GET", "/api/v1/apps/{id}"),
    ("DELETE", "/api/v1/apps/{id}"),
    ("POST", "/api/v1/apps/{id}/update"),
    ("POST", "/api/v1/apps/{id}/redeploy"),
    ("GET", "/api/v1/apps/{id}/release"),
    ("PUT", "/api/v1/apps/{id}/release/weight"),
    ("POST", "/api/v1/apps/{id}/release/confirm"),
    ("POST", "/api/v1/apps/{id}/release/rollback"),
    ("POST", "/api/v1/apps/{id}/services/{service}/scale"),
    ("GET", "/api/v1/apps/{id}/scaling"),
    ("PUT", "/api/v1/apps/{id}/services/{service}/scaling"),
    ("DELETE", "/api/v1/apps/{id}/services/{service}/scaling"),
    ("POST", "/api/v1/apps/{id}/services/{service}/scaling/resume"),
    ("GET", "/api/v1/apps/{id}/jobs"),
    ("POST", "/api/v1/apps/{id}/services/{service}/run"),
    ("GET", "/api/v1/apps/{id}/runs/{run}"),
    ("GET", "/api/v1/apps/{id}/triggers"),
    ("POST", "/api/v1/apps/{id}/triggers"),
    ("POST", "/api/v1/apps/{id}/triggers/{trigger}/rotate"),
    ("DELETE", "/api/v1/apps/{id}/triggers/{trigger}"),
    ("GET", "/api/v1/apps/{id}/triggers/{trigger}/calls"),
    ("GET", "/api/v1/jobs/{id}"),
    ("GET", "/api/v1/operations"),
    ("GET", "/api/v1/operations/verify"),
    ("GET", "/api/v1/clusters/{id}/logs"),
    ("GET", "/api/v1/clusters/{id}/metrics"),
    ("GET", "/api/v1/clusters/{id}/events"),
    ("GET", "/api/v1/clusters/{id}/alerts"),
    ("POST", "/api/v1/clusters/{id}/alerts"),
    ("DELETE", "/api/v1/clusters/{id}/alerts/{rule}"),
    ("GET", "/metrics"),
];

pub fn router(state: AppState) -> Router<AppState> {
    let (router, _) = api().split_for_parts();
    router.route_layer(axum::middleware::from_fn_with_state(state, idempotency::idempotent))
}

/// Every route with its description; [`router`] and [`openapi`] are its two halves.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Api::openapi())
        .routes(routes!(openapi_document))
        .routes(routes!(me))
        .merge(clusters::routes())
        .merge(apps::routes())
        .merge(triggers::routes())
        .merge(history::routes())
        .merge(observe::routes())
}

/// The OpenAPI 3.1 description of [`ROUTES`]: every status each route can answer, typed parameters
/// and bodies (a contract test calls each route and checks its answers against this document).
pub fn openapi() -> Document {
    api().into_openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth API",
        description = "Clusters and nodes for CI systems. Authenticate with a personal API token created \
            on the Account page: `Authorization: Bearer berth_…`. A token can do at most what its role \
            scope, its cluster scope and its user's grants all allow. Every error has the shape \
            `{code, message, field?, error_id}`."
    ),
    components(schemas(extract::ErrorBody)),
    modifiers(&Shared)
)]
struct Api;

/// What every operation shares: the bearer token scheme and the error answer they all refer to.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = ResponseBuilder::new()
            .description("Refused or failed")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
            .build();
        components.responses.insert("Error".into(), RefOr::T(error));
        // The idempotency layer (`idempotency.rs`) sits in front of every route: every mutation
        // takes the key.
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.delete].into_iter().flatten() {
                op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(idempotency_key()));
            }
        }
    }
}

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(200))))
        .description(Some(
            "Retries with the same key within a day get the first answer and have one effect; another body \
             under a used key is refused (422).",
        ))
        .build()
}

/// Sets of error answers a handler lists in `responses(...)`, each the shared `Error` response.
macro_rules! error_answers {
    ($($(#[$doc:meta])* $name:ident: [$($status:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                [$($status),+].into_iter().map(|s| (s.to_string(), RefOr::Ref(Ref::from_response_name("Error")))).collect()
            }
        }
    )+};
}

error_answers! {
    /// Statuses every token-authenticated route may answer besides its success: a bad path or
    /// query value, no or a bad token, not permitted, not found, a database that is away, an
    /// internal error.
    Refusals: ["400", "401", "403", "404", "500", "503"];
    /// What a route with a JSON body may answer besides [`Refusals`]: too large (413), not JSON
    /// (415), fields not as described (422). (Malformed JSON is 400.)
    BodyRefusals: ["413", "415", "422"];
    /// A route that starts a job may also find the target busy (409).
    Busy: ["409"];
    /// The engine answered with an error (502).
    EngineFailed: ["502"];
    /// A query value Berth checks itself (`format`, a metric scope) may be refused as 422.
    Unprocessable: ["422"];
}

/// The document computed once: it depends only on the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", summary = "This document",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
async fn openapi_document() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| openapi().to_json().unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

#[derive(Serialize, ToSchema)]
struct Me {
    id: i64,
    username: String,
    /// `admin` or `user`.
    role: String,
    /// `admin`, `cluster_admin`, `operator` or `viewer`: the most the token may do.
    token_role: String,
    /// The one cluster the token is scoped to, if any.
    token_cluster: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/me", summary = "The token's user and scope", security(("token" = [])),
    responses((status = 200, description = "OK", body = Me), Refusals))]
async fn me(ApiActor(actor): ApiActor) -> Result<Json<Me>, ApiError> {
    let user = actor.user().ok_or_else(|| ApiError::new(Error::Unauthenticated, &actor.request_id))?;
    let scope = user.token.unwrap_or(domain::TokenScope { role: None, cluster: None });
    Ok(Json(Me {
        id: user.id,
        username: user.username.clone(),
        role: user.role.as_str().into(),
        token_role: scope.role.map_or("admin", domain::ClusterRole::as_str).into(),
        token_cluster: scope.cluster,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let mut described: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
            .collect();
        described.sort();
        let mut routes: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        routes.sort();
        assert_eq!(described, routes);
        // OpenAPI requires a description on every answer; a shared one is a reference.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for (status, answer) in op["responses"].as_object().unwrap() {
                    let described = answer["description"].is_string() || answer["$ref"].is_string();
                    assert!(described, "{method} {path} {status} has no description");
                }
            }
        }
    }
}
