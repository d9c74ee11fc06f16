//! TLS: certificates chosen by SNI from the live table (the default one when no name matches), and
//! the admin port's mutual TLS under Berth's CA.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::live::Live;

/// Parses a PEM chain and key into what rustls serves.
pub fn certified_key(cert_pem: &str, key_pem: &str) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if chain.is_empty() {
        return Err("certificate: no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("key: {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|e| format!("certificate and key: {e}"))
}

/// Picks the certificate for a handshake from whatever table is live at that moment.
#[derive(Debug)]
pub struct SniResolver(pub Arc<ArcSwap<Live>>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Live(version {})", self.table.version)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let live = self.0.load();
        let name = hello.server_name().map(str::to_ascii_lowercase);
        let exact = name.as_deref().and_then(|n| live.certs.get(n));
        // Then a wildcard certificate for the name's parent (`a.example.com` → `*.example.com`).
        let wildcard = || {
            let (_, parent) = name.as_deref()?.split_once('.')?;
            live.certs.get(&format!("*.{parent}"))
        };
        exact.or_else(wildcard).cloned().or_else(|| live.default_cert.clone())
    }
}

/// The public HTTPS listener's configuration: HTTP/2 and HTTP/1.1 by ALPN.
pub fn public_config(live: Arc<ArcSwap<Live>>) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver(live)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The admin port's configuration: its own certificate, and only clients whose certificate Berth's
/// CA signed.
pub fn admin_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, String> {
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(ca.map_err(|e| format!("CA: {e}"))?).map_err(|e| format!("CA: {e}"))?;
    }
    if roots.is_empty() {
        return Err("CA: no PEM certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("CA: {e}"))?;
    let key = certified_key(cert_pem, key_pem)?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            key.cert.clone(),
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(Arc::new(config))
}
