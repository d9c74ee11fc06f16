//! The domain's one error type. Every layer above maps it to a wire error with a stable code; nothing
//! here is shown to a browser verbatim except the messages of the user-facing variants.

use std::fmt;

/// A failure of a domain operation.
///
/// The variants are what a caller can act on; everything else is [`Error::Internal`], whose details are
/// logged under an error id and never leave the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller is not signed in (or the session ended).
    #[error("sign in to continue")]
    Unauthenticated,
    /// The caller is signed in but lacks the permission.
    #[error("not permitted: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Bad input; `field` names what was wrong so a form can point at it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Too many failed attempts; the caller may retry after this many seconds.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// A Docker engine did not answer (down, refused, timed out).
    #[error("{0}")]
    EngineUnreachable(String),
    /// A Docker engine answered, with an error; its words say why (shown to admins as they are).
    #[error("{0}")]
    Engine(String),
    /// A node of a cluster, or every manager, did not answer.
    #[error("{0}")]
    NodeUnreachable(String),
    /// Berth's own database does not answer (restarting, unreachable): try again shortly.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] Internal),
}

impl Error {
    /// The stable, snake_case code carried on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Invalid { .. } => "invalid",
            Error::Throttled { .. } => "throttled",
            Error::EngineUnreachable(_) => "engine_unreachable",
            Error::NodeUnreachable(_) => "node_unreachable",
            Error::Engine(_) => "engine_error",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Invalid { field: field.into(), message: message.to_string() }
    }
}

/// Failures that are the server's fault. Their text goes to the log, not to the client.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("background task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("serialisation: {0}")]
    Json(#[from] serde_json::Error),
    #[error("random source: {0}")]
    Random(String),
    #[error("{0}")]
    Other(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if database_away(&e) {
            tracing::warn!(error = %e, "the database does not answer");
            return Error::Unavailable("Berth cannot reach its database right now; try again in a few seconds".into());
        }
        Error::Internal(Internal::Store(e))
    }
}

/// Whether `e` says the database is away (not answering, restarting, shutting down) rather than
/// that a query is wrong: those answer 503, not 500, and the pool reconnects by itself.
fn database_away(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Tls(_) => true,
        // PostgreSQL's "connection exception" class and "operator intervention" (shutting down,
        // cannot connect now).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(Internal::Json(e))
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(Internal::Task(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
