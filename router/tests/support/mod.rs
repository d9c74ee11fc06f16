//! Local parts for the router's tests: backends that say who they are, a router on loopback ports,
//! a client, certificates under a test CA. Every listener binds port 0, so tests run in parallel.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use router::proxy::{Options, Router};
use router::table::{Backend as TableBackend, Route, RouteTable, Side};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A backend that answers its name, the headers it saw (as `x-seen-*`), a status from `/status/N`,
/// its health from `/health` (settable), and echoes bytes after a WebSocket-style upgrade at `/ws`.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub health: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let health = Arc::new(AtomicU16::new(200));
        let (n, h, hl) = (name.to_owned(), hits.clone(), health.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (n, h, hl) = (n.clone(), h.clone(), hl.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (n, h, hl) = (n.clone(), h.clone(), hl.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(req, &n, &h, &hl)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Backend { name: name.into(), addr, hits, health, task }
    }

    pub fn table_entry(&self) -> TableBackend {
        TableBackend { id: format!("task-{}", self.name), addr: self.addr, probe: None }
    }
}

fn answer(mut req: Request<Incoming>, name: &str, hits: &AtomicUsize, health: &AtomicU16) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == "/health" {
        let mut r = Response::new(Full::new(Bytes::from_static(b"health")));
        *r.status_mut() = StatusCode::from_u16(health.load(Ordering::SeqCst)).unwrap();
        return r;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    if path == "/ws" {
        let up = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(io) = up.await {
                let mut io = TokioIo::new(io);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    let mut b = Response::builder()
        .header("x-backend", name)
        .header("connection", "keep-alive, x-private")
        .header("x-private", "1");
    for (k, v) in req.headers() {
        b = b.header(format!("x-seen-{k}"), v.clone());
    }
    if let Some(code) = path.strip_prefix("/status/") {
        b = b.status(code.parse::<u16>().unwrap());
    }
    b.body(Full::new(Bytes::from(name.to_owned()))).unwrap()
}

/// A router serving plain HTTP on a loopback port; dropping it stops the listener.
pub struct TestRouter {
    pub router: Arc<Router>,
    pub http: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl TestRouter {
    pub async fn start(opts: Options) -> TestRouter {
        let router = Router::new(Options { tcp_bind: [127, 0, 0, 1].into(), ..opts });
        router.spawn_background();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = listener.local_addr().unwrap();
        let (stop, rx) = watch::channel(false);
        tokio::spawn(router::serve::serve(router.clone(), listener, None, rx, Duration::from_secs(1)));
        TestRouter { router, http, stop }
    }

    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

pub fn fast() -> Options {
    Options { eject_for: Duration::from_secs(5), probe_every: Duration::from_millis(100), ..Options::default() }
}

pub fn route(id: &str, host: &str, path: &str, sides: Vec<Side>) -> Route {
    Route { id: id.into(), host: host.into(), path: path.into(), sticky: false, https_redirect: false, sides }
}

pub fn side(name: &str, weight: u32, backends: &[&Backend]) -> Side {
    Side { name: name.into(), weight, backends: backends.iter().map(|b| b.table_entry()).collect() }
}

pub fn table(version: u64, routes: Vec<Route>) -> RouteTable {
    RouteTable { version, routes, cookie_secret: "5e".repeat(32), ..Default::default() }
}

pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// What a test reads of a response.
pub struct Got {
    pub status: u16,
    pub body: String,
    pub headers: HashMap<String, String>,
    pub set_cookie: Option<String>,
}

impl Got {
    pub fn backend(&self) -> &str {
        self.headers.get("x-backend").map_or("", |s| s.as_str())
    }
}

pub async fn get(c: &HttpClient, at: SocketAddr, host: &str, path: &str, extra: &[(&str, &str)]) -> Got {
    let mut b = Request::get(format!("http://{at}{path}")).header("host", host);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let resp = c.request(b.body(Empty::new()).unwrap()).await.expect("the router answers");
    read(resp).await
}

pub async fn read(resp: Response<Incoming>) -> Got {
    let status = resp.status().as_u16();
    let mut headers = HashMap::new();
    for (k, v) in resp.headers() {
        headers.insert(k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned());
    }
    let set_cookie = resp.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Got { status, body, headers, set_cookie }
}

/// Sends raw bytes and returns the status code of the first response line (0 if the connection
/// closed without one).
pub async fn raw(at: SocketAddr, request: &[u8]) -> u16 {
    let mut s = TcpStream::connect(at).await.unwrap();
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Sends raw bytes and reads everything until the router closes the connection (at most 5 s).
pub async fn raw_until_closed(at: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(at).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("the router closes the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

/// A port nothing listens on (bound, then released).
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A test CA and what it signs.
pub struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pub pem: String,
}

pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { params, key, pem }
    }

    fn issue(&self, mut params: rcgen::CertificateParams) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Issued { cert: cert.pem(), key: key.serialize_pem() }
    }

    pub fn server(&self, names: &[&str]) -> Issued {
        let mut p = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(p)
    }

    pub fn client(&self, name: &str) -> Issued {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(p)
    }
}
