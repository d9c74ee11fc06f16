//! The admin port Berth talks to, over mutual TLS under Berth's CA (a client without a certificate
//! Berth's CA signed does not get past the handshake):
//! - `PUT /v1/routes` a whole table (JSON): 200 `{"version"}` once served; 409 when the router
//!   serves a newer one; 422 with every refusal when the table is wrong (the old one stays);
//! - `GET /v1/status` the version served, each route's backends and their state, TCP ports;
//! - `GET /v1/metrics` the request counters per route and side.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::proxy::{ApplyError, Router};
use crate::serve::stopped;
use crate::table::RouteTable;

/// The largest table a push may carry (certificates included).
const MAX_TABLE: usize = 32 * 1024 * 1024;

pub async fn serve_admin(
    router: Arc<Router>,
    listener: TcpListener,
    tls: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let tls = tls.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| {
                let router = router.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&router, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

pub async fn handle(router: &Router, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::PUT, "/v1/routes") => {
            let body = match Limited::new(req.into_body(), MAX_TABLE).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return answer(StatusCode::BAD_REQUEST, json!({ "error": format!("body: {e}") })),
            };
            let table: RouteTable = match serde_json::from_slice(&body) {
                Ok(t) => t,
                Err(e) => return answer(StatusCode::BAD_REQUEST, json!({ "error": format!("table: {e}") })),
            };
            match router.apply(table) {
                Ok(version) => answer(StatusCode::OK, json!({ "version": version })),
                Err(ApplyError::Stale { serving }) => {
                    answer(StatusCode::CONFLICT, json!({ "error": "stale", "serving": serving }))
                }
                Err(ApplyError::Refused(refusals)) => {
                    answer(StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": "refused", "refusals": refusals }))
                }
            }
        }
        (&Method::GET, "/v1/status") => answer(StatusCode::OK, json!(router.status())),
        (&Method::GET, "/v1/metrics") => answer(StatusCode::OK, json!(router.metrics.snapshot())),
        _ => answer(StatusCode::NOT_FOUND, json!({ "error": "no such endpoint" })),
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
