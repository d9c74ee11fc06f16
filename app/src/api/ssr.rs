//! What every server function shares on the server: the domain from context, the actor the request
//! carries, the session, and the mapping of domain errors to the wire.

use domain::session::SessionAuth;
use domain::{Actor, Berth, Error};
use http::header::{HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;

/// The session key under which the signed-in user is kept.
const AUTH_KEY: &str = "auth";

#[derive(Serialize, Deserialize)]
struct AuthRecord {
    user_id: i64,
    signed_in_at: i64,
    /// Where and with what the person signed in, for their list of sessions.
    #[serde(default)]
    source: String,
    #[serde(default)]
    agent: String,
}

/// What the session store keeps beside a session's data: whose it is, and what its owner sees of it.
pub fn session_meta(data: &std::collections::HashMap<String, serde_json::Value>) -> domain::store::SessionMeta {
    let auth = data.get(AUTH_KEY);
    let text = |key: &str| auth.and_then(|a| a.get(key)).and_then(|v| v.as_str()).map(str::to_owned);
    domain::store::SessionMeta {
        user_id: auth.and_then(|a| a.get("user_id")).and_then(|v| v.as_i64()),
        signed_in_at: auth.and_then(|a| a.get("signed_in_at")).and_then(|v| v.as_i64()),
        source: text("source"),
        agent: text("agent"),
        seen_at: data.get(SEEN_KEY).and_then(|v| v.as_i64()),
    }
}

/// Reads who signed in to this session, if anyone. `Err` when the session could not be read (the
/// database is away): the request must not be served as anonymous then.
pub async fn session_auth(session: &Session) -> Result<Option<SessionAuth>, String> {
    let record: Option<AuthRecord> = match session.get(AUTH_KEY).await {
        Ok(record) => record,
        // A record of another shape (an older version's): nobody signed in.
        Err(tower_sessions::session::Error::SerdeJson(_)) => None,
        Err(e) => return Err(e.to_string()),
    };
    Ok(record.map(|r| SessionAuth { user_id: r.user_id, signed_in_at: r.signed_in_at }))
}

/// Signs `user_id` in: a new session id (so a planted id is worthless), then the user.
pub async fn start_session(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    let agent = parts()?
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|a| a.chars().take(200).collect())
        .unwrap_or_default();
    let now = domain::clock::now_ms();
    let record = AuthRecord { user_id, signed_in_at: now, source: actor()?.source, agent };
    session.insert(AUTH_KEY, record).await.map_err(session_error)?;
    session.insert(SEEN_KEY, now).await.map_err(session_error)
}

/// The key the session store keeps this request's session under, to mark "this session" in lists.
pub fn current_session_key(session: &Session) -> Option<String> {
    session.id().map(|id| domain::session::session_key(&id.to_string()))
}

/// The session key holding when the session last saw a request.
const SEEN_KEY: &str = "seen";

/// Marks a signed-in session as active so its idle timeout starts again. Writes at most once a minute
/// per session (the write is what moves the stored expiry).
pub async fn keep_alive(session: &Session) {
    let now = domain::clock::now_ms();
    let seen: i64 = session.get(SEEN_KEY).await.ok().flatten().unwrap_or(0);
    if now - seen >= 60_000 {
        let _ = session.insert(SEEN_KEY, now).await;
    }
}

/// Ends the session on the server; its cookie is worthless afterwards.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

fn session_error(e: tower_sessions::session::Error) -> AppError {
    wire(Error::Internal(domain::error::Internal::Other(format!("session: {e}"))))
}

fn parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| AppError::new("internal", "request context missing"))
}

/// The domain facade provided by the server.
pub fn berth() -> Result<Berth, AppError> {
    use_context::<Berth>().ok_or_else(|| AppError::new("internal", "domain missing from context"))
}

/// The actor the server's middleware resolved for this request.
pub fn actor() -> Result<Actor, AppError> {
    parts()?.extensions.get::<Actor>().cloned().ok_or_else(|| AppError::new("internal", "actor missing"))
}

/// The request's session.
pub fn session() -> Result<Session, AppError> {
    parts()?.extensions.get::<Session>().cloned().ok_or_else(|| AppError::new("internal", "session missing"))
}

/// The domain and the actor, the pair nearly every server function starts with.
pub fn context() -> Result<(Berth, Actor), AppError> {
    Ok((berth()?, actor()?))
}

/// The HTTP status that goes with a domain error.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Invalid { .. } | Error::Problems(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::EngineUnreachable(_) | Error::NodeUnreachable(_) | Error::Unavailable(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::Engine(_) => StatusCode::BAD_GATEWAY,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Maps a domain error to the wire, sets the response status (and `Retry-After` when throttled), and
/// logs it under the request id, which the client receives as the error id.
pub fn wire(e: Error) -> AppError {
    let error_id = use_context::<Parts>()
        .and_then(|p| p.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let status = status_of(&e);
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(status);
        if let Error::Throttled { retry_after_secs } = &e {
            res.insert_header(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
    }
    let mut out = AppError::new(e.code(), e.to_string());
    match &e {
        Error::Internal(inner) => {
            tracing::error!(error_id = error_id.as_deref().unwrap_or("-"), error = %inner, "internal error");
            out.message = "Something went wrong on the server; it has been logged.".into();
        }
        Error::Invalid { field, message } => {
            out.field = Some(field.clone());
            out.message = message.clone();
        }
        // The message names every field, for a form that shows one banner.
        Error::Problems(all) => {
            out.field = all.first().map(|(f, _)| f.clone());
            out.fields = Some(Box::new(all.clone()));
        }
        Error::Throttled { retry_after_secs } => out.retry_after = Some(*retry_after_secs),
        _ => tracing::debug!(error_id = error_id.as_deref().unwrap_or("-"), code = e.code(), "request refused"),
    }
    out.error_id = error_id;
    out
}

/// An `invalid` error about `field` (with status 422), for input checked before the domain sees it.
pub fn invalid(field: &str, message: &str) -> AppError {
    wire(Error::invalid(field, message))
}

/// A whole number typed into a form field, or an error naming the field.
pub fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, AppError> {
    whole(field, raw).map_err(wire)
}

/// [`number`] as a domain error, for [`domain::error::Checks`].
pub fn whole<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, Error> {
    raw.trim().parse().map_err(|_| Error::invalid(field, "must be a whole number"))
}
