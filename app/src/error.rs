//! The wire error every server function returns: a stable snake_case `code`, a message a person can
//! read, the field it is about (for forms), and an error id to quote when reporting it. Never SQL,
//! paths or stack traces: internal failures reach the browser as `internal` with an id only.

use serde::{Deserialize, Serialize, Serializer};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// `unauthenticated`, `forbidden`, `not_found`, `conflict`, `invalid`, `throttled`,
    /// `engine_unreachable`, `node_unreachable`, `engine_error`, `internal`, or `request_failed` when
    /// the call itself failed.
    pub code: String,
    pub message: String,
    /// The input field an `invalid` error is about (the first, when several are).
    #[serde(default)]
    pub field: Option<String>,
    /// Every field that is wrong and why, when an `invalid` error is about more than one (boxed: an
    /// error stays small to pass around).
    #[serde(default)]
    pub fields: Option<Box<Vec<(String, String)>>>,
    /// The request id the server logged this error under.
    #[serde(default)]
    pub error_id: Option<String>,
    /// Seconds to wait, for `throttled`.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// As JSON (error bodies people and scripts read) the fields that do not apply are left out; in
/// the compact form pages carry (`crate::codec`) every field is written, in order, as that form
/// has no field names to tell which are missing.
impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename = "AppError")]
        struct Readable<'a> {
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            field: Option<&'a String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            fields: Option<&'a [(String, String)]>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_id: Option<&'a String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            retry_after: Option<u64>,
        }
        #[derive(Serialize)]
        #[serde(rename = "AppError")]
        struct Compact<'a> {
            code: &'a str,
            message: &'a str,
            field: Option<&'a String>,
            fields: Option<&'a [(String, String)]>,
            error_id: Option<&'a String>,
            retry_after: Option<u64>,
        }
        let (code, message) = (self.code.as_str(), self.message.as_str());
        let (field, error_id, retry_after) = (self.field.as_ref(), self.error_id.as_ref(), self.retry_after);
        let fields = self.fields.as_deref().map(Vec::as_slice);
        if serializer.is_human_readable() {
            Readable { code, message, field, fields, error_id, retry_after }.serialize(serializer)
        } else {
            Compact { code, message, field, fields, error_id, retry_after }.serialize(serializer)
        }
    }
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        AppError {
            code: code.into(),
            message: message.into(),
            field: None,
            fields: None,
            error_id: None,
            retry_after: None,
        }
    }

    /// The message for `field`, when this error is about it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        if let Some(all) = &self.fields {
            return all.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone());
        }
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    /// The message with the error id appended, for banners.
    pub fn display(&self) -> String {
        match &self.error_id {
            Some(id) => format!("{} (error id {id})", self.message),
            None => self.message.clone(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let message = match &value {
            ServerFnErrorErr::Request(_) => "Berth did not answer; check your connection and try again".to_string(),
            other => other.to_string(),
        };
        AppError::new("request_failed", message)
    }
}
