//! How data reaches the browser: what server functions answer (`#[server(output = crate::codec::Wire)]`)
//! and what a server-rendered page hands over for hydration (`resource`). Both are postcard, not
//! JSON: the browser's decoder for a type is then a plain sequence of its fields, where serde_json's
//! is a parser with a map of field names per type, which cost the wasm about 5 % (PERFORMANCE.md
//! P4). A caller that asks for JSON (`Accept: application/json`: scripts, tests, curl) gets the
//! same answer as JSON. Errors are always JSON (`AppError`); REST (`/api/v1`) is JSON.

use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use server_fn::codec::Post;
use server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

/// Postcard over HTTP and into the page.
pub struct Postcard;

impl ContentType for Postcard {
    const CONTENT_TYPE: &'static str = "application/x-postcard";
}

impl FormatType for Postcard {
    const FORMAT_TYPE: Format = Format::Binary;
}

impl<T: Serialize> Encodes<T> for Postcard {
    /// postcard's, or serde_json's for a caller that asked for JSON.
    type Error = String;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        #[cfg(feature = "ssr")]
        if wants_json() {
            use leptos::prelude::use_context;
            let json = serde_json::to_vec(output).map_err(|e| e.to_string())?;
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.insert_header(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            }
            return Ok(Bytes::from(json));
        }
        postcard::to_allocvec(output).map(Bytes::from).map_err(|e| e.to_string())
    }
}

/// Whether the request being answered asked for JSON by name.
#[cfg(feature = "ssr")]
fn wants_json() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("application/json")))
    })
}

impl<T: DeserializeOwned> Decodes<T> for Postcard {
    type Error = postcard::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        postcard::from_bytes(&bytes)
    }
}

impl<T: Serialize> Encoder<T> for Postcard {
    type Error = postcard::Error;
    type Encoded = Vec<u8>;

    fn encode(val: &T) -> Result<Vec<u8>, Self::Error> {
        postcard::to_allocvec(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Postcard {
    type Error = postcard::Error;
    type Encoded = [u8];

    fn decode(val: &[u8]) -> Result<T, Self::Error> {
        postcard::from_bytes(val)
    }
}

/// The output encoding every server function names.
pub type Wire = Post<Postcard>;

/// A resource whose server-rendered value reaches the browser as postcard.
pub type Res<T> = Resource<T, Postcard>;

/// `Resource::new` with postcard: loads `fetcher(source())` again whenever `source` changes.
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Res<T>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
