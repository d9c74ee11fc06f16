//! How server functions answer: JSON, decoded in the browser from text (`serde_json::from_str`), the
//! same way resources are read back during hydration. With one reader type every DTO gets one
//! deserializer in the wasm instead of two (PERFORMANCE.md P4).

use serde::de::DeserializeOwned;
use serde::Serialize;
use server_fn::codec::Post;
use server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

/// JSON read as text.
pub struct TextJson;

impl ContentType for TextJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for TextJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for TextJson {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for TextJson {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// The output encoding every server function names (`#[server(output = crate::codec::Json)]`).
pub type Json = Post<TextJson>;
