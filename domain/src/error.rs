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
    /// Bad input in several fields at once, each named, so a form can point at all of them; never
    /// fewer than two (one is [`Error::Invalid`]).
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Problems(Vec<(String, String)>),
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
            Error::Invalid { .. } | Error::Problems(_) => "invalid",
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

/// The checks of one input's fields, gathered so that every wrong field is said at once.
///
/// ```
/// # use domain::error::{Checks, Error};
/// let mut checks = Checks::default();
/// let name = checks.field(Err::<String, _>(Error::invalid("name", "is required")));
/// let nodes = checks.field(Ok::<u32, Error>(3));
/// assert!(name.is_none() && nodes == Some(3));
/// assert!(matches!(checks.finish(), Err(Error::Invalid { .. })));
/// ```
#[derive(Debug, Default)]
pub struct Checks {
    problems: Vec<(String, String)>,
    /// An error that is not about a field (it wins: the input could not be checked).
    other: Option<Error>,
}

impl Checks {
    /// The checked value, or `None` after noting why not.
    pub fn field<T>(&mut self, checked: Result<T>) -> Option<T> {
        match checked {
            Ok(v) => Some(v),
            Err(e) => {
                self.note(e);
                None
            }
        }
    }

    /// Notes a problem with `field`.
    pub fn invalid(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.note(Error::invalid(field, message));
    }

    fn note(&mut self, e: Error) {
        match e {
            // One message per field: the first said is the one to fix first.
            Error::Invalid { field, message } => {
                if !self.problems.iter().any(|(f, _)| *f == field) {
                    self.problems.push((field, message));
                }
            }
            Error::Problems(all) => {
                for (field, message) in all {
                    self.note(Error::Invalid { field, message });
                }
            }
            other => {
                self.other.get_or_insert(other);
            }
        }
    }

    /// Whether nothing was wrong so far.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.other.is_none()
    }

    /// `Ok` when every check passed; otherwise the problems, all of them.
    pub fn finish(mut self) -> Result<()> {
        if let Some(e) = self.other {
            return Err(e);
        }
        match self.problems.len() {
            0 => Ok(()),
            1 => {
                let (field, message) = self.problems.remove(0);
                Err(Error::Invalid { field, message })
            }
            _ => Err(Error::Problems(self.problems)),
        }
    }

    /// `value` when every check passed (`value` is then `Some`).
    pub fn done<T>(self, value: Option<T>) -> Result<T> {
        self.finish()?;
        value.ok_or_else(|| Error::invalid("input", "could not be checked"))
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
