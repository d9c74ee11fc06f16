//! The router: the live table, backend health, metrics, and the handling of one HTTP request from
//! the client's side to a backend and back. Listeners live in `serve.rs`, TCP forwarding in `l4.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{Either, Empty, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::Notify;

use crate::api::{BackendStatus, RouteStatus, SideStatus, Status, TcpStatus};
use crate::health::Health;
use crate::l4::L4;
use crate::live::{Live, LiveRoute};
use crate::metrics::Metrics;
use crate::table::{self, Backend, Refusal, RouteTable};

pub type ReqBody = Either<Limited<Incoming>, Empty<Bytes>>;
pub type RespBody = Either<Incoming, Full<Bytes>>;

/// The name of the sticky cookie.
pub const STICKY_COOKIE: &str = "BERTHSRV";
/// The methods the router forwards (an allow-list; anything else is answered 405).
const METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS];
/// How many backends one request may try when connections are refused.
const ATTEMPTS: usize = 3;

#[derive(Clone, Debug)]
pub struct Options {
    /// How long a backend that refused a connection gets no requests.
    pub eject_for: Duration,
    pub connect_timeout: Duration,
    /// From the request sent to the backend's response head.
    pub response_timeout: Duration,
    /// Request bodies above this are refused (413 when announced, cut off when streamed).
    pub max_body: u64,
    /// The most a request head may take (431 above).
    pub max_header_bytes: usize,
    pub probe_every: Duration,
    /// Ports the router listens on itself, which a TCP route may not take.
    pub reserved_ports: Vec<u16>,
    /// Where TCP routes listen.
    pub tcp_bind: std::net::IpAddr,
    /// The last table applied, kept so a restarted router serves it before Berth is back.
    pub state_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            eject_for: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            response_timeout: Duration::from_secs(60),
            max_body: 100 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            probe_every: Duration::from_secs(2),
            reserved_ports: vec![80, 443],
            tcp_bind: std::net::Ipv4Addr::UNSPECIFIED.into(),
            state_file: None,
        }
    }
}

pub struct Router {
    pub(crate) live: Arc<ArcSwap<Live>>,
    pub health: Health,
    pub metrics: Metrics,
    pub opts: Options,
    pub(crate) client: Client<HttpConnector, ReqBody>,
    pub(crate) l4: L4,
    probe_wake: Notify,
    apply_lock: Mutex<()>,
    started: Instant,
    me: std::sync::Weak<Router>,
}

/// Why a table was not applied.
#[derive(Debug, PartialEq)]
pub enum ApplyError {
    /// The router already serves a newer table.
    Stale {
        serving: u64,
    },
    Refused(Vec<Refusal>),
}

impl Router {
    /// A router serving the table in its state file if there is a readable one, else nothing.
    pub fn new(opts: Options) -> Arc<Router> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(opts.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let router = Arc::new_cyclic(|me| Router {
            me: me.clone(),
            live: Arc::new(ArcSwap::from_pointee(Live::empty())),
            health: Health::new(opts.eject_for),
            metrics: Metrics::default(),
            client,
            l4: L4::default(),
            probe_wake: Notify::new(),
            apply_lock: Mutex::new(()),
            started: Instant::now(),
            opts,
        });
        if let Some(path) = &router.opts.state_file {
            match std::fs::read(path) {
                Ok(bytes) => match serde_json::from_slice::<RouteTable>(&bytes) {
                    Ok(table) => match router.apply(table) {
                        Ok(v) => tracing::info!(version = v, "serving the table kept from the last run"),
                        Err(e) => tracing::warn!(?e, "the kept table was not applied"),
                    },
                    Err(e) => tracing::warn!(%e, "the kept table does not parse"),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(%e, "the kept table cannot be read"),
            }
        }
        router
    }

    /// Starts the router's own background work (probing backends that have a probe path).
    pub fn spawn_background(self: &Arc<Self>) {
        let router = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(r) = router.upgrade() else { return };
                r.probe_all().await;
                let every = r.opts.probe_every;
                let wake = async { r.probe_wake.notified().await };
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = wake => {}
                }
            }
        });
    }

    pub(crate) fn me(&self) -> std::sync::Weak<Router> {
        self.me.clone()
    }

    /// The live table's cell, for the TLS resolver (it reads the certificates of whatever is live).
    pub fn live_handle(&self) -> Arc<ArcSwap<Live>> {
        self.live.clone()
    }

    pub fn version(&self) -> u64 {
        self.live.load().table.version
    }

    pub fn table(&self) -> Arc<RouteTable> {
        self.live.load().table.clone()
    }

    /// Serves `table` from the next request on: checked and compiled off to the side, then swapped in
    /// one store, so requests in flight finish on the table they started with and none is refused.
    /// The same version again is a no-op (a push repeated); an older one is refused.
    pub fn apply(&self, table: RouteTable) -> Result<u64, ApplyError> {
        let _one_at_a_time = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        let serving = self.version();
        if table.version < serving {
            return Err(ApplyError::Stale { serving });
        }
        if table.version == serving && serving != 0 && *self.live.load().table == table {
            return Ok(serving);
        }
        let live = Live::compile(table, &self.opts.reserved_ports, &self.metrics).map_err(ApplyError::Refused)?;
        let version = live.table.version;
        let live = Arc::new(live);
        self.l4.sync(self, &live.table.tcp);
        self.live.store(live.clone());
        self.metrics.prune();
        self.probe_wake.notify_one();
        if let Some(path) = &self.opts.state_file {
            if let Err(e) = keep(path, &live.table) {
                tracing::warn!(%e, "the table could not be kept on disk");
            }
        }
        tracing::info!(version, routes = live.table.routes.len(), tcp = live.table.tcp.len(), "table applied");
        Ok(version)
    }

    pub fn status(&self) -> Status {
        let live = self.live.load();
        let backends = |bs: &[Backend]| {
            bs.iter()
                .map(|b| BackendStatus { id: b.id.clone(), addr: b.addr, state: self.health.state(b) })
                .collect::<Vec<_>>()
        };
        Status {
            version: live.table.version,
            uptime_s: self.started.elapsed().as_secs(),
            routes: live
                .table
                .routes
                .iter()
                .map(|r| RouteStatus {
                    id: r.id.clone(),
                    host: r.host.clone(),
                    path: r.path.clone(),
                    sides: r
                        .sides
                        .iter()
                        .map(|s| SideStatus { name: s.name.clone(), weight: s.weight, backends: backends(&s.backends) })
                        .collect(),
                })
                .collect(),
            tcp: live
                .table
                .tcp
                .iter()
                .map(|t| TcpStatus {
                    id: t.id.clone(),
                    port: t.port,
                    error: self.l4.error(t.port),
                    backends: backends(&t.backends),
                })
                .collect(),
        }
    }

    async fn probe_all(&self) {
        let live = self.live.load_full();
        let mut targets: Vec<(SocketAddr, String)> = live
            .table
            .routes
            .iter()
            .flat_map(|r| r.sides.iter().flat_map(|s| s.backends.iter()))
            .filter_map(|b| Some((b.addr, b.probe.clone()?)))
            .collect();
        targets.sort();
        targets.dedup();
        let mut probes = tokio::task::JoinSet::new();
        for (addr, path) in targets.iter().cloned() {
            let client = self.client.clone();
            probes.spawn(async move {
                let ok = match format!("http://{addr}{path}").parse::<Uri>() {
                    Ok(uri) => {
                        let req = Request::get(uri)
                            .header(header::USER_AGENT, "berth-router-probe")
                            .body(Either::Right(Empty::new()))
                            .expect("a GET of a parsed URI is a request");
                        let answer = tokio::time::timeout(Duration::from_secs(2), client.request(req)).await;
                        matches!(&answer, Ok(Ok(r)) if r.status().is_success() || r.status().is_redirection())
                    }
                    Err(_) => false,
                };
                (addr, path, ok)
            });
        }
        while let Some(done) = probes.join_next().await {
            if let Ok((addr, path, ok)) = done {
                self.health.set_probe(addr, &path, ok);
            }
        }
        self.health.retain_probes(|k| targets.binary_search(k).is_ok());
    }

    /// Handles one request from a client: checks it, routes it, forwards it, answers.
    pub async fn handle(&self, mut req: Request<Incoming>, peer: SocketAddr, tls: bool) -> Response<RespBody> {
        let started = Instant::now();
        let host = match request_host(&req) {
            Ok(h) => h,
            Err(why) => return self.refuse(StatusCode::BAD_REQUEST, why),
        };
        if !METHODS.contains(req.method()) {
            return self.refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        let headers = req.headers();
        if headers.contains_key(header::CONTENT_LENGTH) && headers.contains_key(header::TRANSFER_ENCODING) {
            return self.refuse(StatusCode::BAD_REQUEST, "both Content-Length and Transfer-Encoding");
        }
        if req.body().size_hint().lower() > self.opts.max_body {
            return self.refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        let live = self.live.load_full();
        let Some(route) = live.route(&host, req.uri().path()) else {
            self.metrics.unrouted.fetch_add(1, Ordering::Relaxed);
            return text(StatusCode::NOT_FOUND, "no route for this host and path");
        };
        if route.route.https_redirect && !tls {
            let target = format!("https://{host}{}", req.uri().path_and_query().map_or("/", |p| p.as_str()));
            let mut resp = text(StatusCode::PERMANENT_REDIRECT, "use https");
            if let Ok(v) = HeaderValue::from_str(&target) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            return resp;
        }
        let cookie = route.route.sticky.then(|| sticky_cookie(req.headers())).flatten();
        let upgrade = (req.version() == Version::HTTP_11 && is_upgrade(req.headers()))
            .then(|| (req.headers().get(header::UPGRADE).cloned(), hyper::upgrade::on(&mut req)));

        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        if let Some((Some(protocol), _)) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        forwarded(&mut headers, peer, tls, &host);
        let path_and_query =
            parts.uri.path_and_query().cloned().unwrap_or_else(|| hyper::http::uri::PathAndQuery::from_static("/"));
        let no_body = body.is_end_stream();
        let mut body = Some(Limited::new(body, self.opts.max_body as usize));
        let mut tried: Vec<&Backend> = Vec::new();
        let mut first_side = None;
        for _ in 0..ATTEMPTS {
            let Some(picked) = route.pick(&live, &self.health, cookie.as_deref(), &tried) else { break };
            first_side.get_or_insert(picked.side);
            let Ok(uri) = Uri::builder()
                .scheme(hyper::http::uri::Scheme::HTTP)
                .authority(picked.authority.clone())
                .path_and_query(path_and_query.clone())
                .build()
            else {
                return self.refuse(StatusCode::BAD_REQUEST, "bad request target");
            };
            let out_body = match body.take() {
                Some(b) => Either::Left(b),
                None if no_body => Either::Right(Empty::new()),
                None => break,
            };
            let mut out = Request::new(out_body);
            *out.method_mut() = parts.method.clone();
            *out.uri_mut() = uri;
            *out.version_mut() = Version::HTTP_11;
            *out.headers_mut() = headers.clone();
            match tokio::time::timeout(self.opts.response_timeout, self.client.request(out)).await {
                Ok(Ok(resp)) => {
                    picked.side.metrics.record(resp.status().as_u16(), started.elapsed());
                    return self.answer(
                        resp,
                        route,
                        &live,
                        picked.backend,
                        cookie.as_deref(),
                        upgrade.map(|u| u.1),
                        tls,
                    );
                }
                Ok(Err(e)) if e.is_connect() => {
                    tracing::debug!(backend = %picked.backend.addr, error = %e, "backend refused; ejected");
                    self.health.eject(picked.backend.addr);
                    tried.push(picked.backend);
                }
                Ok(Err(e)) => {
                    tracing::debug!(backend = %picked.backend.addr, error = %e, "backend failed");
                    picked.side.metrics.record_failure(started.elapsed());
                    return text(StatusCode::BAD_GATEWAY, "the backend failed to answer");
                }
                Err(_) => {
                    picked.side.metrics.record(504, started.elapsed());
                    return text(StatusCode::GATEWAY_TIMEOUT, "the backend did not answer in time");
                }
            }
        }
        if let Some(side) = first_side.or(route.sides.first()) {
            side.metrics.record_failure(started.elapsed());
        }
        text(StatusCode::SERVICE_UNAVAILABLE, "no backend available for this route")
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        mut resp: Response<Incoming>,
        route: &LiveRoute,
        live: &Live,
        backend: &Backend,
        cookie: Option<&str>,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
        tls: bool,
    ) -> Response<RespBody> {
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client) = client_upgrade {
                let backend_upgrade = hyper::upgrade::on(&mut resp);
                tokio::spawn(async move {
                    if let (Ok(c), Ok(b)) = tokio::join!(client, backend_upgrade) {
                        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(c), &mut TokioIo::new(b)).await;
                    }
                });
            }
        } else {
            strip_hop_by_hop(resp.headers_mut());
        }
        if route.route.sticky {
            if let Some(value) = live.sticky_value(route, backend) {
                if cookie != Some(value.as_str()) {
                    let path = table::normal_path(&route.route.path);
                    let secure = if tls { "; Secure" } else { "" };
                    let set =
                        format!("{STICKY_COOKIE}={value}; Path={path}; Max-Age=28800; HttpOnly; SameSite=Lax{secure}");
                    if let Ok(v) = HeaderValue::from_str(&set) {
                        resp.headers_mut().append(header::SET_COOKIE, v);
                    }
                }
            }
        }
        resp.map(Either::Left)
    }

    fn refuse(&self, status: StatusCode, why: &'static str) -> Response<RespBody> {
        self.metrics.refused.fetch_add(1, Ordering::Relaxed);
        let mut resp = text(status, why);
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    }
}

/// A hyper service for one client connection.
pub fn service(
    router: Arc<Router>,
    peer: SocketAddr,
    tls: bool,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<RespBody>,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<Response<RespBody>, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |req| {
        let router = router.clone();
        async move { Ok(router.handle(req, peer, tls).await) }
    })
}

fn text(status: StatusCode, body: &'static str) -> Response<RespBody> {
    let mut resp = Response::new(Either::Right(Full::new(Bytes::from_static(body.as_bytes()))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut().insert(HeaderName::from_static("x-berth-router"), HeaderValue::from_static("1"));
    resp
}

/// The host a request is for, lowercase and without a port: from the request target's authority
/// (HTTP/2, absolute form) or the one Host header; when both are present they must agree.
fn request_host<B>(req: &Request<B>) -> Result<String, &'static str> {
    let mut values = req.headers().get_all(header::HOST).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err("more than one Host header");
    }
    let header = header.map(|v| v.to_str().map_err(|_| "Host is not text")).transpose()?;
    let target = req.uri().authority().map(|a| a.as_str());
    let raw = match (target, header) {
        (Some(t), Some(h)) if !t.eq_ignore_ascii_case(h) => return Err("Host and the request target disagree"),
        (Some(t), _) => t,
        (None, Some(h)) => h,
        (None, None) => return Err("no Host"),
    };
    let name = match raw.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.len() <= 5 && port.bytes().all(|c| c.is_ascii_digit()) => name,
        Some(_) => return Err("Host has a bad port"),
        None => raw,
    };
    let name = name.to_ascii_lowercase();
    table::check_host(&name).map_err(|_| "Host is not a host name")?;
    Ok(name)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes the headers that describe one connection, not the message (RFC 9110 §7.6.1), including
/// every header the Connection header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// `X-Forwarded-For` (the client's address appended), `-Proto` and `-Host`, and a Host header for
/// backends when the client sent the host in the request target (HTTP/2).
fn forwarded(headers: &mut HeaderMap, peer: SocketAddr, tls: bool, host: &str) {
    let xff = HeaderName::from_static("x-forwarded-for");
    use std::fmt::Write as _;
    let mut value = String::with_capacity(48);
    if let Some(prior) = headers.get(&xff).and_then(|v| v.to_str().ok()) {
        value.push_str(prior);
        value.push_str(", ");
    }
    let _ = write!(value, "{}", peer.ip().to_canonical());
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(xff, v);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    if let Ok(v) = HeaderValue::from_str(host) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), v.clone());
        headers.entry(header::HOST).or_insert(v);
    }
}

fn sticky_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == STICKY_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Writes the table next to its final place and renames it over, so a crash never leaves half a file.
fn keep(path: &std::path::Path, table: &RouteTable) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(table)?)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_host_comes_from_one_place_or_is_refused() {
        let cases: &[(&str, &[&str], Result<&str, &str>)] = &[
            ("/", &["Shop.Example"], Ok("shop.example")),
            ("/", &["shop.example:8080"], Ok("shop.example")),
            ("http://shop.example/x", &[], Ok("shop.example")),
            ("http://shop.example/x", &["SHOP.example"], Ok("shop.example")),
            ("/", &[], Err("no Host")),
            ("/", &["a.example", "b.example"], Err("more than one Host header")),
            ("http://a.example/", &["b.example"], Err("Host and the request target disagree")),
            ("/", &["shop.example:"], Err("Host has a bad port")),
            ("/", &["shop.example:80x"], Err("Host has a bad port")),
            ("/", &["[::1]:80"], Err("Host is not a host name")),
            ("/", &["sh op"], Err("Host is not a host name")),
            ("/", &["a..b"], Err("Host is not a host name")),
            ("/", &["a_b.example"], Err("Host is not a host name")),
            ("/", &["user@shop.example"], Err("Host is not a host name")),
            ("http://user@shop.example/", &[], Err("Host is not a host name")),
        ];
        for (uri, hosts, want) in cases {
            assert_eq!(request_host(&req(uri, hosts)).as_deref().map_err(|e| *e), *want, "{uri} {hosts:?}");
        }
    }

    #[test]
    fn hop_by_hop_headers_go_including_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }
}
