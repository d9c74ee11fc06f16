//! The admin port of a cluster's routers (berth-router): pushing a route table, reading what a
//! router serves and its request counters. Mutual TLS under Berth's CA: Berth presents its client
//! certificate and accepts only a router certificate its CA signed for [`ROUTER_TLS_NAME`] (one
//! certificate serves every router of a cluster, whatever node address Berth dials).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use router::{MetricsSnapshot, RouteTable, Status};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::TlsMaterial;

/// The name in every router's certificate, which Berth checks instead of the address it dials.
pub const ROUTER_TLS_NAME: &str = "berth-router.invalid";

/// How long one admin call may take, connection included.
const CALL: Duration = Duration::from_secs(5);

/// The largest answer read from a router (a status of many routes).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// What a router said to a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// It serves this version now.
    Serving(u64),
    /// It serves a newer one (another replica of Berth pushed it).
    Newer(u64),
    /// It refused the table: every reason, by field.
    Refused(Vec<String>),
}

#[derive(Clone)]
pub struct RouterAdmin {
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for RouterAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouterAdmin")
    }
}

impl RouterAdmin {
    pub fn new(tls: &TlsMaterial) -> Result<RouterAdmin, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
            roots.add(cert.map_err(|e| format!("CA: {e}"))?).map_err(|e| format!("CA: {e}"))?;
        }
        let certs = CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("client certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).map_err(|e| format!("client key: {e}"))?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("client certificate: {e}"))?;
        Ok(RouterAdmin { tls: tokio_rustls::TlsConnector::from(Arc::new(config)) })
    }

    /// Sends a whole table to the router at `addr`.
    pub async fn push(&self, addr: SocketAddr, table: &RouteTable) -> Result<Pushed, String> {
        let body = serde_json::to_vec(table).map_err(|e| e.to_string())?;
        let (status, answer) = self.call(addr, Method::PUT, "/v1/routes", body).await?;
        let number = |k: &str| answer.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        match status {
            200 => Ok(Pushed::Serving(number("version"))),
            409 => Ok(Pushed::Newer(number("serving"))),
            422 => Ok(Pushed::Refused(
                answer["refusals"]
                    .as_array()
                    .map(|rs| {
                        rs.iter()
                            .map(|r| {
                                format!(
                                    "{}: {}",
                                    r["field"].as_str().unwrap_or(""),
                                    r["message"].as_str().unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            other => Err(format!("the router answered {other}: {answer}")),
        }
    }

    pub async fn status(&self, addr: SocketAddr) -> Result<Status, String> {
        let (code, answer) = self.call(addr, Method::GET, "/v1/status", Vec::new()).await?;
        if code != 200 {
            return Err(format!("the router answered {code}"));
        }
        serde_json::from_value(answer).map_err(|e| format!("the router's status: {e}"))
    }

    pub async fn metrics(&self, addr: SocketAddr) -> Result<MetricsSnapshot, String> {
        let (code, answer) = self.call(addr, Method::GET, "/v1/metrics", Vec::new()).await?;
        if code != 200 {
            return Err(format!("the router answered {code}"));
        }
        serde_json::from_value(answer).map_err(|e| format!("the router's metrics: {e}"))
    }

    async fn call(
        &self,
        addr: SocketAddr,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, serde_json::Value), String> {
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
            let name = ServerName::try_from(ROUTER_TLS_NAME).expect("a valid DNS name");
            let tls = self.tls.connect(name, tcp).await.map_err(|e| format!("TLS with {addr}: {e}"))?;
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
            let driver = tokio::spawn(conn);
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header("host", ROUTER_TLS_NAME)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let resp = send.send_request(request).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let bytes =
                Limited::new(resp.into_body(), MAX_ANSWER).collect().await.map_err(|e| e.to_string())?.to_bytes();
            driver.abort();
            let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            Ok((status, value))
        };
        tokio::time::timeout(CALL, exchange).await.map_err(|_| format!("{addr} did not answer in {CALL:?}"))?
    }
}
