//! Mutual TLS to remote engines: a rustls client that trusts only Berth's CA, presents Berth's client
//! certificate, and checks that the host's certificate names the address dialled. Plugged into bollard
//! as a custom transport so the keys never touch the disk.

use std::sync::Arc;

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsMaterial;

/// A bollard client for `https://{addr}` with mutual TLS, or why it cannot be made.
pub(super) fn connect(
    addr: &str,
    tls: &TlsMaterial,
    timeout_secs: u64,
    version: &ClientVersion,
) -> Result<Docker, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("Berth's CA certificate cannot be read: {e}"))?;
        roots.add(cert).map_err(|e| format!("Berth's CA certificate is not usable: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = if tls.cert_pem.is_empty() {
        builder.with_no_client_auth()
    } else {
        let certs = CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("Berth's client certificate cannot be read: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
            .map_err(|e| format!("Berth's client key cannot be read: {e}"))?;
        builder.with_client_auth_cert(certs, key).map_err(|e| format!("Berth's client certificate: {e}"))?
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_only().enable_http1().build();
    // No idle pool, as bollard's own TLS client: a pooled connection a host closed fails the next call.
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(https);
    let transport = move |request: BollardRequest| {
        let client = client.clone();
        async move { client.request(request).await.map_err(bollard::errors::Error::from) }
    };
    Docker::connect_with_custom_transport(transport, Some(format!("https://{addr}")), timeout_secs, version)
        .map_err(|e| e.to_string())
}

/// Plain words for the TLS failures a misconfigured host produces, or `None` for anything else.
pub(super) fn explain(error: &str) -> Option<String> {
    let reason = if error.contains("UnknownIssuer") {
        "the host's certificate is not signed by Berth's CA"
    } else if error.contains("Expired") {
        "the host's certificate has expired (or is not valid yet)"
    } else if error.contains("NotValidForName") || error.contains("not valid for name") {
        "the host's certificate does not name the address Berth dials (wrong SAN)"
    } else if error.contains("CertificateRequired")
        || error.contains("BadCertificate")
        || error.contains("CertificateExpired")
        || error.contains("UnknownCA")
    {
        "the host refused Berth's client certificate"
    } else if error.contains("InvalidContentType") || error.contains("corrupt message") {
        "the host does not speak TLS on this port (run Berth's setup script on it, or mark it insecure)"
    } else {
        return None;
    };
    Some(format!("{reason} ({error})"))
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn tls_failures_in_plain_words() {
        let cases = [
            ("invalid peer certificate: UnknownIssuer", "not signed by Berth's CA"),
            ("invalid peer certificate: Expired", "has expired"),
            ("invalid peer certificate: NotValidForName", "wrong SAN"),
            ("received fatal alert: CertificateRequired", "refused Berth's client certificate"),
            ("received fatal alert: BadCertificate", "refused Berth's client certificate"),
            ("received corrupt message of type InvalidContentType", "does not speak TLS"),
        ];
        for (raw, want) in cases {
            let got = explain(raw).unwrap();
            assert!(got.contains(want) && got.contains(raw), "{raw}: {got}");
        }
        assert_eq!(explain("connection refused"), None);
    }
}
