//! Posting alert notifications to webhooks: JSON over http or https (the system's CA bundle is
//! trusted), bounded in time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Where Debian and most distributions keep the trusted roots.
const CA_BUNDLES: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for path in CA_BUNDLES {
                if let Ok(certs) = CertificateDer::pem_file_iter(path) {
                    for cert in certs.flatten() {
                        let _ = roots.add(cert);
                    }
                    break;
                }
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

/// POSTs `body` to `url`; the answer's status code, or why there was none.
pub async fn post_json(url: &str, body: &serde_json::Value) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls_config()).clone())
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .header("user-agent", "Berth")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
        Err(_) => Err("no answer within 10 s".into()),
        Ok(Err(e)) => Err(format!("could not deliver: {e}")),
        Ok(Ok(response)) => Ok(response.status().as_u16()),
    }
}

/// How long to wait before each further attempt of a delivery.
pub(crate) const RETRY_DELAYS: &[Duration] = &[Duration::from_secs(2), Duration::from_secs(10)];

/// POSTs `body` to `url`, again after each of `delays` while there is no answer or the answer is a
/// server error (5xx) or 429; returns what to record: the last answer, and the earlier ones if any.
pub(crate) async fn deliver(url: &str, body: &serde_json::Value, delays: &[Duration]) -> String {
    let mut earlier: Vec<String> = Vec::new();
    let mut waits = delays.iter();
    loop {
        let answer = post_json(url, body).await;
        let again = answer.as_ref().map_or(true, |code| *code >= 500 || *code == 429);
        let text = answer.map_or_else(|e| e, |code| code.to_string());
        match waits.next() {
            Some(wait) if again => {
                earlier.push(text);
                tokio::time::sleep(*wait).await;
            }
            _ if earlier.is_empty() => return text,
            _ => {
                let attempt = earlier.len() + 1;
                return format!("{text} (attempt {attempt} of {}; before: {})", delays.len() + 1, earlier.join("; "));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering each connection with the next status of `statuses`.
    async fn server(statuses: Vec<u16>) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let mut served = 0;
            for status in statuses {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                conn.write_all(reply.as_bytes()).await.unwrap();
                served += 1;
            }
            served
        });
        (url, handle)
    }

    #[tokio::test]
    async fn deliveries_are_tried_again_on_server_errors_only() {
        let delays = [Duration::from_millis(10), Duration::from_millis(10)];
        let body = serde_json::json!({"status": "firing"});
        let (url, served) = server(vec![503, 200]).await;
        assert_eq!(deliver(&url, &body, &delays).await, "200 (attempt 2 of 3; before: 503)");
        assert_eq!(served.await.unwrap(), 2);
        let (url, served) = server(vec![404]).await;
        assert_eq!(deliver(&url, &body, &delays).await, "404", "a client error is final");
        assert_eq!(served.await.unwrap(), 1);
        let (url, served) = server(vec![500, 502, 429]).await;
        assert_eq!(deliver(&url, &body, &delays).await, "429 (attempt 3 of 3; before: 500; 502)");
        assert_eq!(served.await.unwrap(), 3);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        let answer = deliver(&url, &body, &delays).await;
        assert!(answer.starts_with("could not deliver") && answer.contains("before: could not deliver"), "{answer}");
    }
}
