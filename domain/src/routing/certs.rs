//! TLS certificates the routers serve by SNI: uploaded per cluster by its admins (the names and the
//! expiry read from the certificate, the key checked against it and sealed at rest), and a
//! self-signed default per cluster, served for names no certificate covers.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::Berth;

/// The most names one certificate may carry, and the largest PEM accepted.
const MAX_NAMES: usize = 100;
const MAX_PEM: usize = 64 * 1024;

/// An uploaded certificate as the Routing page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub id: i64,
    /// The names it is valid for (`*.example.com` for a wildcard).
    pub hosts: Vec<String>,
    /// When it expires (Unix ms).
    pub not_after: i64,
    pub created_by: String,
    pub created_at: i64,
}

/// What an uploaded certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inspected {
    pub(crate) hosts: Vec<String>,
    pub(crate) not_after: i64,
}

/// Reads a certificate chain and its key (PEM): the leaf's DNS names (its common name when it has
/// none), its expiry; refused with the field named when it does not parse, has expired, names no
/// usable host, or the key is not the certificate's.
pub(crate) fn inspect(cert_pem: &str, key_pem: &str, now: i64) -> Result<Inspected> {
    if cert_pem.len() > MAX_PEM || key_pem.len() > MAX_PEM {
        return Err(Error::invalid("certificate", format!("at most {} KB of PEM", MAX_PEM / 1024)));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::invalid("certificate", format!("not PEM certificates: {e}")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| Error::invalid("certificate", "no PEM certificate (-----BEGIN CERTIFICATE-----)"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| Error::invalid("key", format!("not a PEM private key: {e}")))?;
    let (_, x509) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| Error::invalid("certificate", format!("the certificate does not read: {e}")))?;
    let not_after = x509.validity().not_after.timestamp() * 1000;
    if not_after <= now {
        return Err(Error::invalid("certificate", format!("it expired on {}", crate::clock::rfc3339(not_after))));
    }
    let mut hosts: Vec<String> = Vec::new();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = name {
                hosts.push(d.to_ascii_lowercase());
            }
        }
    }
    if hosts.is_empty() {
        if let Some(cn) = x509.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()) {
            hosts.push(cn.to_ascii_lowercase());
        }
    }
    hosts.retain(|h| router::table::check_host(h.strip_prefix("*.").unwrap_or(h)).is_ok());
    hosts.sort();
    hosts.dedup();
    if hosts.is_empty() {
        return Err(Error::invalid("certificate", "it names no host name (subject alternative names of type DNS)"));
    }
    if hosts.len() > MAX_NAMES {
        return Err(Error::invalid("certificate", format!("it names more than {MAX_NAMES} hosts")));
    }
    let provider = rustls::crypto::ring::default_provider();
    rustls::sign::CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| Error::invalid("key", format!("the key does not belong to the certificate ({e})")))?;
    Ok(Inspected { hosts, not_after })
}

/// A self-signed certificate and key for names nothing else covers.
pub(crate) fn self_signed() -> Result<(String, String)> {
    let key = rcgen::KeyPair::generate().map_err(|e| Error::Internal(crate::error::Internal::Other(e.to_string())))?;
    let mut params = rcgen::CertificateParams::new(vec!["berth-default.invalid".to_string()])
        .map_err(|e| Error::Internal(crate::error::Internal::Other(e.to_string())))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "Berth default certificate");
    (params.not_before, params.not_after) = crate::clusters::pki::validity(3650);
    let cert = params.self_signed(&key).map_err(|e| Error::Internal(crate::error::Internal::Other(e.to_string())))?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Berth {
    /// A cluster's uploaded certificates.
    pub(crate) async fn certificate_list(&self, cluster_id: i64) -> Result<Vec<Certificate>> {
        Ok(self
            .store
            .certificates(cluster_id)
            .await?
            .into_iter()
            .map(|c| Certificate {
                id: c.id,
                hosts: c.hosts(),
                not_after: c.not_after,
                created_by: c.created_by.clone(),
                created_at: c.created_at,
            })
            .collect())
    }

    /// What the routers get: every uploaded certificate with its key, and the default one.
    pub(crate) async fn table_certificates(
        &self,
        cluster_id: i64,
        default: (&str, &str),
    ) -> Result<Vec<router::table::Certificate>> {
        let sealer = self.sealer()?;
        let mut out = Vec::new();
        for c in self.store.certificates(cluster_id).await? {
            let key = String::from_utf8_lossy(&sealer.unseal(&c.key_sealed)?).into_owned();
            out.push(router::table::Certificate {
                hosts: c.hosts(),
                cert_pem: c.cert_pem,
                key_pem: key,
                default: false,
            });
        }
        if !default.0.is_empty() {
            out.push(router::table::Certificate {
                hosts: Vec::new(),
                cert_pem: default.0.to_string(),
                key_pem: default.1.to_string(),
                default: true,
            });
        }
        Ok(out)
    }

    /// Uploads a certificate and its key for the routers of a cluster (cluster admins); it is
    /// served from the next table on for the names it is valid for.
    pub async fn upload_certificate(
        &self,
        actor: &Actor,
        cluster_id: i64,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Certificate> {
        let op = Op {
            action: "routing.certificate.upload",
            permission: Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: json!({ "cluster": cluster_id }),
        };
        self.mutate(actor, op, |user| async move {
            self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
            let (cert_pem, key_pem) = (cert_pem.trim().to_string(), key_pem.trim().to_string());
            let now = now_ms();
            let (cert, key) = (cert_pem.clone(), key_pem.clone());
            let seen = self.cpu(move || inspect(&cert, &key, now)).await??;
            self.routing_opened(cluster_id).await?;
            let sealed = self.sealer()?.seal(key_pem.as_bytes())?;
            let id = self
                .store
                .certificate_insert(cluster_id, &seen.hosts, &cert_pem, &sealed, seen.not_after, &user.username, now)
                .await?;
            Ok(Certificate {
                id,
                hosts: seen.hosts,
                not_after: seen.not_after,
                created_by: user.username.clone(),
                created_at: now,
            })
        })
        .await
    }

    /// Removes an uploaded certificate (cluster admins): its names get the default one again.
    pub async fn delete_certificate(&self, actor: &Actor, cluster_id: i64, id: i64) -> Result<()> {
        let op = Op {
            action: "routing.certificate.delete",
            permission: Permission::ClusterManage(cluster_id),
            target: format!("{cluster_id}/{id}"),
            params: json!({ "cluster": cluster_id, "certificate": id }),
        };
        self.mutate(actor, op, |_| async move {
            if !self.store.certificate_delete(cluster_id, id).await? {
                return Err(Error::NotFound(format!("certificate {id}")));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(names: &[&str], days: i64) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(2);
        p.not_after = now + time::Duration::days(days);
        (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_certificate_says_its_names_and_expiry_and_must_match_its_key() {
        let (cert, key) = issue(&["Shop.Example.com", "*.apps.example.com"], 30);
        let seen = inspect(&cert, &key, now_ms()).unwrap();
        assert_eq!(seen.hosts, ["*.apps.example.com", "shop.example.com"]);
        assert!(seen.not_after > now_ms() + 29 * 86_400_000);

        let (_, other_key) = issue(&["x.example.com"], 30);
        let field = |r: Result<Inspected>| match r {
            Err(Error::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("accepted: {other:?}"),
        };
        assert!(field(inspect(&cert, &other_key, now_ms())).starts_with("key: the key does not belong"));
        assert!(field(inspect("junk", &key, now_ms())).starts_with("certificate: no PEM certificate"));
        assert!(field(inspect(&cert, "junk", now_ms())).starts_with("key: not a PEM private key"));
        let (old, old_key) = issue(&["old.example.com"], -1);
        assert!(field(inspect(&old, &old_key, now_ms())).starts_with("certificate: it expired on"));
        let (ip_only, ip_key) = issue(&["10.0.0.1"], 30);
        let _ = inspect(&ip_only, &ip_key, now_ms());
        let (bad, bad_key) = issue(&["bad_name.example.com"], 30);
        assert!(field(inspect(&bad, &bad_key, now_ms())).starts_with("certificate: it names no host name"));
    }

    #[test]
    fn the_default_certificate_is_self_signed_and_reads() {
        let (cert, key) = self_signed().unwrap();
        assert_eq!(inspect(&cert, &key, now_ms()).unwrap().hosts, ["berth-default.invalid"]);
    }
}
