//! The router against local servers: matching, weights, stickiness, ejection and probes, WebSocket,
//! HTTP/2 (cleartext and by ALPN), TLS by SNI, forwarded headers, malformed requests, TCP routes,
//! the admin port over mutual TLS, and tables swapped under load.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use router::health::BackendState;
use router::proxy::{ApplyError, Options, Router};
use router::table::{Backend as TableBackend, Certificate, RouteTable, TcpRoute};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn exact_host_and_longest_path_prefix_choose_the_route() {
    let (a, b, c) = (Backend::start("a").await, Backend::start("b").await, Backend::start("c").await);
    let r = TestRouter::start(fast()).await;
    r.router
        .apply(table(
            1,
            vec![
                route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])]),
                route("shop-api", "shop.test", "/api/", vec![side("v1", 1, &[&b])]),
                route("other", "other.test", "/", vec![side("v1", 1, &[&c])]),
            ],
        ))
        .unwrap();
    let cl = client();
    for (host, path, want) in [
        ("shop.test", "/", "a"),
        ("shop.test", "/cart?x=1", "a"),
        ("shop.test", "/api", "b"),
        ("shop.test", "/api/v1/items", "b"),
        ("shop.test", "/apix", "a"),
        ("SHOP.test:80", "/api", "b"),
        ("other.test", "/api", "c"),
    ] {
        let got = get(&cl, r.http, host, path, &[]).await;
        assert_eq!((got.status, got.backend()), (200, want), "{host}{path}");
    }
    for host in ["unknown.test", "test", "www.shop.test"] {
        assert_eq!(get(&cl, r.http, host, "/", &[]).await.status, 404, "{host}");
    }
}

#[tokio::test]
async fn weights_split_requests_between_sides() {
    let (v1, v2) = (Backend::start("v1").await, Backend::start("v2").await);
    let r = TestRouter::start(fast()).await;
    let cl = client();
    for (version, w1, w2, want_v2) in [(1, 100, 0, 0.0), (2, 50, 50, 0.5), (3, 25, 75, 0.75), (4, 0, 100, 1.0)] {
        r.router
            .apply(table(
                version,
                vec![route("shop", "shop.test", "/", vec![side("v1", w1, &[&v1]), side("v2", w2, &[&v2])])],
            ))
            .unwrap();
        let mut n2 = 0;
        for _ in 0..1000 {
            let got = get(&cl, r.http, "shop.test", "/", &[]).await;
            assert_eq!(got.status, 200);
            n2 += usize::from(got.backend() == "v2");
        }
        let share = n2 as f64 / 1000.0;
        assert!((share - want_v2).abs() <= 0.05, "weights {w1}/{w2}: v2 got {share}");
    }
}

#[tokio::test]
async fn a_sticky_cookie_holds_its_backend_and_cannot_be_forged() {
    let bs = [Backend::start("s1").await, Backend::start("s2").await, Backend::start("s3").await];
    let r = TestRouter::start(fast()).await;
    let mut rt = route("shop", "shop.test", "/", vec![side("v1", 1, &[&bs[0], &bs[1], &bs[2]])]);
    rt.sticky = true;
    r.router.apply(table(1, vec![rt.clone()])).unwrap();
    let cl = client();
    let first = get(&cl, r.http, "shop.test", "/", &[]).await;
    let set = first.set_cookie.clone().expect("a sticky route sets its cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=28800"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    for _ in 0..30 {
        let got = get(&cl, r.http, "shop.test", "/", &[("cookie", &cookie)]).await;
        assert_eq!(got.backend(), first.backend(), "the cookie holds the backend");
        assert!(got.set_cookie.is_none(), "a valid cookie is not set again");
    }
    // Without a cookie, requests spread over all three.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..9 {
        seen.insert(get(&cl, r.http, "shop.test", "/", &[]).await.backend().to_owned());
    }
    assert_eq!(seen.len(), 3);
    // A cookie naming another task with a made-up or borrowed MAC is not honoured.
    let (_, mac) = cookie.rsplit_once('.').unwrap();
    let other = bs.iter().find(|b| b.name != first.backend()).unwrap();
    let mut forged_hits = 0;
    for forged in
        [format!("BERTHSRV=task-{}.{mac}", other.name), format!("BERTHSRV=task-{}.{}", other.name, "0".repeat(32))]
    {
        for _ in 0..6 {
            let got = get(&cl, r.http, "shop.test", "/", &[("cookie", &forged)]).await;
            assert!(got.set_cookie.is_some(), "a forged cookie is replaced");
            forged_hits += usize::from(got.backend() == other.name);
        }
    }
    assert!(forged_hits < 12, "a forged cookie would send every request to its backend");
    // When the cookie's task leaves, the client is sent elsewhere and given a new cookie.
    let remaining: Vec<&Backend> = bs.iter().filter(|b| b.name != first.backend()).collect();
    rt.sides = vec![side("v1", 1, &remaining)];
    r.router.apply(table(2, vec![rt])).unwrap();
    let got = get(&cl, r.http, "shop.test", "/", &[("cookie", &cookie)]).await;
    assert_eq!(got.status, 200);
    assert_ne!(got.backend(), first.backend());
    assert!(got.set_cookie.is_some());
}

#[tokio::test]
async fn a_backend_that_refuses_connections_is_ejected_without_failing_requests() {
    let a = Backend::start("a").await;
    let dead = TableBackend { id: "task-dead".into(), addr: dead_addr().await, probe: None };
    let r = TestRouter::start(fast()).await;
    let mut s = side("v1", 1, &[&a]);
    s.backends.insert(0, dead.clone());
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![s])])).unwrap();
    let cl = client();
    for _ in 0..20 {
        let got = get(&cl, r.http, "shop.test", "/", &[]).await;
        assert_eq!((got.status, got.backend()), (200, "a"), "a refused connection is retried on the next backend");
    }
    let status = r.router.status();
    let states: HashMap<String, BackendState> =
        status.routes[0].sides[0].backends.iter().map(|b| (b.id.clone(), b.state)).collect();
    assert_eq!(states["task-dead"], BackendState::Ejected);
    assert_eq!(states["task-a"], BackendState::Up);
    // A route whose every backend refuses answers 503, and counts it.
    let s = router::table::Side { name: "v1".into(), weight: 1, backends: vec![dead] };
    r.router.apply(table(2, vec![route("shop", "shop.test", "/", vec![s])])).unwrap();
    assert_eq!(get(&cl, r.http, "shop.test", "/", &[]).await.status, 503);
    let m = r.router.metrics.snapshot();
    assert_eq!(m.sides[0].failed, 1);
}

#[tokio::test]
async fn a_backend_with_a_probe_gets_requests_only_while_the_probe_passes() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    b.health.store(500, Ordering::SeqCst);
    let r = TestRouter::start(fast()).await;
    let mut s = side("v1", 1, &[&a, &b]);
    for be in &mut s.backends {
        be.probe = Some("/health".into());
    }
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![s])])).unwrap();
    let cl = client();
    wait_for(|| r.router.status().routes[0].sides[0].backends.iter().all(|b| b.state != BackendState::ProbePending))
        .await;
    for _ in 0..10 {
        assert_eq!(get(&cl, r.http, "shop.test", "/", &[]).await.backend(), "a");
    }
    b.health.store(200, Ordering::SeqCst);
    wait_for(|| r.router.status().routes[0].sides[0].backends.iter().all(|b| b.state == BackendState::Up)).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        seen.insert(get(&cl, r.http, "shop.test", "/", &[]).await.backend().to_owned());
    }
    assert_eq!(seen.len(), 2, "b is used once its probe passes");
}

/// Polls a condition the router reaches by itself (probes run on their own timer), for up to 5 s.
async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 5 s");
}

#[tokio::test]
async fn forwarded_headers_are_set_and_hop_by_hop_ones_dropped() {
    let a = Backend::start("a").await;
    let r = TestRouter::start(fast()).await;
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])])).unwrap();
    let got = get(
        &client(),
        r.http,
        "shop.test:8080",
        "/",
        &[("x-forwarded-for", "10.0.0.1"), ("connection", "x-hop"), ("x-hop", "secret"), ("x-app", "kept")],
    )
    .await;
    assert_eq!(got.headers["x-seen-x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(got.headers["x-seen-x-forwarded-proto"], "http");
    assert_eq!(got.headers["x-seen-x-forwarded-host"], "shop.test");
    assert_eq!(got.headers["x-seen-host"], "shop.test:8080", "the backend sees the Host the client sent");
    assert_eq!(got.headers["x-seen-x-app"], "kept");
    assert!(!got.headers.contains_key("x-seen-x-hop"), "a header named by Connection is not forwarded");
    assert!(!got.headers.contains_key("x-private"), "nor one the backend's Connection named");
}

#[tokio::test]
async fn malformed_and_ambiguous_requests_are_refused_before_any_backend() {
    let a = Backend::start("a").await;
    let r = TestRouter::start(Options { max_body: 1000, ..fast() }).await;
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])])).unwrap();
    let huge = format!("GET / HTTP/1.1\r\nHost: shop.test\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let many: String = (0..150).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: shop.test\r\n{many}\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        ("no Host", "GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n".into(), 400),
        ("Host with a space", "GET / HTTP/1.1\r\nHost: shop .test\r\n\r\n".into(), 400),
        ("Host with an underscore", "GET / HTTP/1.1\r\nHost: shop_x.test\r\n\r\n".into(), 400),
        ("Host with user info", "GET / HTTP/1.1\r\nHost: u@shop.test\r\n\r\n".into(), 400),
        ("Host with a bad port", "GET / HTTP/1.1\r\nHost: shop.test:x\r\n\r\n".into(), 400),
        ("absolute target for another host", "GET http://evil.test/ HTTP/1.1\r\nHost: shop.test\r\n\r\n".into(), 400),
        (
            "two different Content-Lengths",
            "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".into(),
            400,
        ),
        ("a signed Content-Length", "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: +3\r\n\r\nabc".into(), 400),
        (
            "Transfer-Encoding not ending in chunked",
            "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n".into(),
            400,
        ),
        ("a bad request line", "GET /\r\n\r\n".into(), 400),
        ("a space in the target", "GET /a b HTTP/1.1\r\nHost: shop.test\r\n\r\n".into(), 400),
        ("huge headers", huge, 431),
        ("too many headers", many, 431),
        ("CONNECT", "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n".into(), 405),
        ("TRACE", "TRACE / HTTP/1.1\r\nHost: shop.test\r\n\r\n".into(), 405),
        ("a body over the limit", "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5000\r\n\r\n".into(), 413),
    ];
    for (what, request, want) in &cases {
        assert_eq!(raw(r.http, request.as_bytes()).await, *want, "{what}");
    }
    assert_eq!(a.hits.load(Ordering::SeqCst), 0, "no malformed request reached the backend");
    assert_eq!(raw(r.http, b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n").await, 200, "a good one does");
    assert_eq!(a.hits.load(Ordering::SeqCst), 1);
    // Content-Length beside Transfer-Encoding is resolved as RFC 9112 §6.1 has it (hyper's parser:
    // chunked wins, Content-Length is dropped, the connection closes after the answer), so the
    // classic smuggling request cannot slip a second request past the router.
    let smuggle = b"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n";
    let all = raw_until_closed(r.http, smuggle).await;
    assert_eq!(all.matches("HTTP/1.1 ").count(), 1, "one answer, then the connection closes: {all}");
    assert!(!all.contains("x-seen-content-length"), "the backend saw no Content-Length: {all}");
    assert_eq!(a.hits.load(Ordering::SeqCst), 2, "the smuggled request never reached the backend");
}

#[tokio::test]
async fn a_websocket_upgrade_is_tunnelled_both_ways() {
    let a = Backend::start("a").await;
    let r = TestRouter::start(fast()).await;
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])])).unwrap();
    let mut s = TcpStream::connect(r.http).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [&b"hello"[..], b"second frame", &[0u8, 255, 1, 2][..]] {
        s.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back)).await.unwrap().unwrap();
        assert_eq!(back, msg);
    }
}

#[tokio::test]
async fn http2_with_prior_knowledge_reaches_an_http1_backend() {
    let a = Backend::start("a").await;
    let r = TestRouter::start(fast()).await;
    r.router.apply(table(1, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])])).unwrap();
    let stream = TcpStream::connect(r.http).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = Request::get("http://shop.test/x").body(Empty::<Bytes>::new()).unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let got = read(resp).await;
        assert_eq!((got.status, got.backend()), (200, "a"));
        assert_eq!(got.headers["x-seen-host"], "shop.test", "the backend gets a Host from :authority");
    }
}

fn tls_client(ca: &Ca, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pem_cert(&ca.pem)).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn pem_cert(pem: &str) -> rustls_pki_types::CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

#[tokio::test]
async fn https_picks_the_certificate_by_sni_and_speaks_http2_by_alpn() {
    let a = Backend::start("a").await;
    let ca = Ca::new("test CA");
    let (shop, fallback) = (ca.server(&["shop.test"]), ca.server(&["default.test"]));
    let wild = ca.server(&["*.apps.test"]);
    let router = Router::new(fast());
    let mut t = table(1, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])]);
    t.certificates = vec![
        Certificate { hosts: vec!["shop.test".into()], cert_pem: shop.cert.clone(), key_pem: shop.key, default: false },
        Certificate { hosts: vec![], cert_pem: fallback.cert.clone(), key_pem: fallback.key, default: true },
        Certificate {
            hosts: vec!["*.apps.test".into()],
            cert_pem: wild.cert.clone(),
            key_pem: wild.key,
            default: false,
        },
    ];
    router.apply(t).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(router::tls::public_config(router.live_handle()));
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(router::serve::serve(router.clone(), listener, Some(acceptor), rx, Duration::from_secs(1)));

    for (sni, want) in [
        ("shop.test", &shop.cert),
        ("default.test", &fallback.cert),
        ("blog.apps.test", &wild.cert),
        ("unknown.test", &fallback.cert),
    ] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from(sni.to_owned()).unwrap();
        let connector = tls_client(&ca, &[b"h2", b"http/1.1"]);
        match connector.connect(name, tcp).await {
            Ok(tls) => {
                let (_, conn) = tls.get_ref();
                assert_eq!(conn.peer_certificates().unwrap()[0], pem_cert(want), "{sni}");
                assert_eq!(conn.alpn_protocol(), Some(&b"h2"[..]));
                if sni == "shop.test" {
                    let (mut send, c) =
                        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
                    tokio::spawn(c);
                    let resp = send
                        .send_request(Request::get("https://shop.test/").body(Empty::<Bytes>::new()).unwrap())
                        .await
                        .unwrap();
                    let got = read(resp).await;
                    assert_eq!((got.status, got.backend()), (200, "a"));
                    assert_eq!(got.headers["x-seen-x-forwarded-proto"], "https");
                }
            }
            // The default certificate does not name unknown.test: the client refuses it, which
            // is what a browser does too; the certificate served is still the default one.
            Err(e) => assert_eq!(sni, "unknown.test", "{sni}: {e}"),
        }
    }
}

#[tokio::test]
async fn an_http_route_can_redirect_to_https() {
    let a = Backend::start("a").await;
    let r = TestRouter::start(fast()).await;
    let mut rt = route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])]);
    rt.https_redirect = true;
    r.router.apply(table(1, vec![rt])).unwrap();
    let got = get(&client(), r.http, "shop.test", "/cart?id=2", &[]).await;
    assert_eq!(got.status, 308);
    assert_eq!(got.headers["location"], "https://shop.test/cart?id=2");
    assert_eq!(a.hits.load(Ordering::SeqCst), 0);
}

async fn tcp_echo() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = w.write_all(b"echo:").await;
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_tcp_route_forwards_its_port_and_closes_it_when_removed() {
    let (echo, _task) = tcp_echo().await;
    let r = TestRouter::start(fast()).await;
    let port = dead_addr().await.port();
    let dead = TableBackend { id: "dead".into(), addr: dead_addr().await, probe: None };
    let live = TableBackend { id: "echo".into(), addr: echo, probe: None };
    let tcp = TcpRoute { id: "db".into(), port, backends: vec![dead, live] };
    r.router.apply(RouteTable { version: 1, tcp: vec![tcp], ..Default::default() }).unwrap();
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 9];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"echo:ping");
    }
    assert_eq!(r.router.status().tcp[0].error, None);
    // A port the router itself uses, or one taken, is refused or reported, not silently dropped.
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad = TcpRoute { id: "x".into(), port: taken.local_addr().unwrap().port(), backends: vec![] };
    r.router.apply(RouteTable { version: 2, tcp: vec![bad], ..Default::default() }).unwrap();
    assert!(r.router.status().tcp[0].error.is_some(), "a taken port is reported");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "the removed route's port is closed");
    let reserved = TcpRoute { id: "y".into(), port: 80, backends: vec![] };
    assert!(matches!(
        r.router.apply(RouteTable { version: 3, tcp: vec![reserved], ..Default::default() }),
        Err(ApplyError::Refused(_))
    ));
}

#[tokio::test]
async fn tables_swapped_a_hundred_times_under_load_fail_no_request() {
    let bs = [Backend::start("a").await, Backend::start("b").await, Backend::start("c").await];
    let r = TestRouter::start(fast()).await;
    let tables: Vec<_> = (0..100)
        .map(|i| {
            let (x, y) = if i % 2 == 0 { (&bs[0], &bs[1]) } else { (&bs[1], &bs[2]) };
            table(i + 1, vec![route("shop", "shop.test", "/", vec![side("v1", 50, &[x]), side("v2", 50, &[y])])])
        })
        .collect();
    r.router.apply(tables[0].clone()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let swapped = Arc::new(tokio::sync::Notify::new());
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (done, failed, at) = (done.clone(), failed.clone(), r.http);
        clients.push(tokio::spawn(async move {
            let cl = client();
            for _ in 0..2500 {
                let got = get(&cl, at, "shop.test", "/", &[]).await;
                if got.status != 200 {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // One swap per 200 requests answered, so the swaps spread over the whole run.
    let swapper = {
        let (router, done, swapped) = (r.router.clone(), done.clone(), swapped.clone());
        tokio::spawn(async move {
            for (i, t) in tables.into_iter().enumerate().skip(1) {
                while done.load(Ordering::SeqCst) < i * 200 {
                    tokio::task::yield_now().await;
                }
                router.apply(t).unwrap();
            }
            swapped.notify_one();
        })
    };
    for c in clients {
        c.await.unwrap();
    }
    swapper.await.unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 20_000);
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert_eq!(r.router.version(), 100);
    assert!(bs.iter().all(|b| b.hits.load(Ordering::SeqCst) > 1000), "every backend served its tables");
}

#[tokio::test]
async fn tables_are_checked_versions_only_move_forward_and_the_last_one_is_kept() {
    let a = Backend::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("table.json");
    let opts = Options { state_file: Some(state.clone()), ..fast() };
    let router = Router::new(opts.clone());
    assert_eq!(router.apply(table(5, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])])), Ok(5));
    assert_eq!(router.apply(table(4, vec![])), Err(ApplyError::Stale { serving: 5 }));
    let bad = table(6, vec![route("shop", "Shop.test", "/", vec![])]);
    let Err(ApplyError::Refused(refusals)) = router.apply(bad) else { panic!("a wrong table was applied") };
    let fields: Vec<&str> = refusals.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["routes[0] (shop).host", "routes[0] (shop).sides"]);
    assert_eq!(router.version(), 5, "a refused table leaves the served one");
    let mut t = table(7, vec![]);
    t.certificates = vec![Certificate {
        hosts: vec!["shop.test".into()],
        cert_pem: "junk".into(),
        key_pem: "junk".into(),
        default: false,
    }];
    assert!(matches!(router.apply(t), Err(ApplyError::Refused(r)) if r[0].field == "certificates[0]"));
    drop(router);
    let restarted = Router::new(opts);
    assert_eq!(restarted.version(), 5, "a restarted router serves the table it kept");
    assert_eq!(restarted.table().routes[0].host, "shop.test");
}

/// An HTTPS client of the admin port, with or without a client certificate.
async fn admin_call(
    addr: std::net::SocketAddr,
    ca: &Ca,
    client: Option<&Issued>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, serde_json::Value), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pem_cert(&ca.pem)).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(c) => {
            use rustls_pki_types::pem::PemObject;
            builder
                .with_client_auth_cert(
                    vec![pem_cert(&c.cert)],
                    rustls_pki_types::PrivateKeyDer::from_pem_slice(c.key.as_bytes()).unwrap(),
                )
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("router.test").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap()))
}

#[tokio::test]
async fn the_admin_port_takes_tables_only_from_clients_of_berths_ca() {
    let a = Backend::start("a").await;
    let (ca, stranger_ca) = (Ca::new("berth CA"), Ca::new("another CA"));
    let server = ca.server(&["router.test"]);
    let (berth, stranger) = (ca.client("berth"), stranger_ca.client("berth"));
    let r = TestRouter::start(fast()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = router::tls::admin_config(&ca.pem, &server.cert, &server.key).unwrap();
    tokio::spawn(router::admin::serve_admin(
        r.router.clone(),
        listener,
        tokio_rustls::TlsAcceptor::from(config),
        r.stop_signal(),
    ));
    let put = |t: &RouteTable| {
        Request::put("/v1/routes")
            .header("host", "router.test")
            .body(Full::new(Bytes::from(serde_json::to_vec(t).unwrap())))
            .unwrap()
    };
    let get_ = |p: &str| Request::get(p).header("host", "router.test").body(Full::new(Bytes::new())).unwrap();
    let t = table(3, vec![route("shop", "shop.test", "/", vec![side("v1", 1, &[&a])])]);

    for (who, cert) in [("no certificate", None), ("another CA's certificate", Some(&stranger))] {
        let answer = admin_call(addr, &ca, cert, put(&t)).await;
        assert!(answer.is_err(), "{who}: {answer:?}");
    }
    assert_eq!(r.router.version(), 0);

    let (status, body) = admin_call(addr, &ca, Some(&berth), put(&t)).await.unwrap();
    assert_eq!((status, body["version"].as_u64()), (200, Some(3)));
    let (status, body) = admin_call(addr, &ca, Some(&berth), put(&table(2, vec![]))).await.unwrap();
    assert_eq!((status, body["serving"].as_u64()), (409, Some(3)));
    let (status, body) =
        admin_call(addr, &ca, Some(&berth), put(&table(4, vec![route("x", "x..test", "/", vec![])]))).await.unwrap();
    assert_eq!(status, 422);
    assert_eq!(body["refusals"][0]["field"], "routes[0] (x).host");
    let bad_json =
        Request::put("/v1/routes").header("host", "router.test").body(Full::new(Bytes::from_static(b"{"))).unwrap();
    assert_eq!(admin_call(addr, &ca, Some(&berth), bad_json).await.unwrap().0, 400);

    let got = get(&client(), r.http, "shop.test", "/status/503", &[]).await;
    assert_eq!(got.status, 503);
    get(&client(), r.http, "shop.test", "/", &[]).await;
    let (status, body) = admin_call(addr, &ca, Some(&berth), get_("/v1/status")).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["version"], 3);
    assert_eq!(body["routes"][0]["sides"][0]["backends"][0]["state"], "up");
    let (_, m) = admin_call(addr, &ca, Some(&berth), get_("/v1/metrics")).await.unwrap();
    let side = &m["sides"][0];
    assert_eq!((side["route"].as_str(), side["side"].as_str()), (Some("shop"), Some("v1")));
    assert_eq!(side["requests"], 2);
    assert_eq!(side["status"], serde_json::json!([0, 1, 0, 0, 1]));
    assert_eq!(side["latency"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 2);
}
