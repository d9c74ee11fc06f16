//! Berth as a certificate authority for remote hosts (SECURITY.md S10): an installation CA, Berth's
//! client certificate, and server certificates for hosts with a setup script that configures their
//! dockerd for mutual TLS. The CA and client keys are sealed at rest.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::error::{Error, Internal, Result};
use crate::Berth;

const CA_CERT: &str = "pki.ca_cert";
const CA_KEY: &str = "pki.ca_key";
const CLIENT_CERT: &str = "pki.client_cert";
const CLIENT_KEY: &str = "pki.client_key";

/// The installation's CA and Berth's client identity, keys in the clear (in memory only).
pub struct Pki {
    pub ca_cert: String,
    ca_key: String,
    pub client_cert: String,
    pub client_key: String,
    ca_name: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").field("ca_name", &self.ca_name).finish_non_exhaustive()
    }
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct Issued {
    pub cert: String,
    pub key: String,
}

fn pki_error(e: rcgen::Error) -> Error {
    Error::Internal(Internal::Other(format!("certificates: {e}")))
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "Berth");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

/// The validity of a certificate issued now for `days`, starting a minute ago (clock skew).
pub fn validity(days: i64) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - TimeDuration::minutes(1), now + TimeDuration::days(days))
}

impl Pki {
    /// A new CA and client certificate.
    fn create(ca_name: &str) -> Result<Pki> {
        let ca_key = KeyPair::generate().map_err(pki_error)?;
        let mut params = ca_params(ca_name);
        (params.not_before, params.not_after) = validity(3650);
        let ca_cert = params.self_signed(&ca_key).map_err(pki_error)?.pem();
        let mut pki = Pki {
            ca_cert,
            ca_key: ca_key.serialize_pem(),
            client_cert: String::new(),
            client_key: String::new(),
            ca_name: ca_name.into(),
        };
        let (from, until) = validity(1825);
        let client = pki.issue_client("berth", from, until)?;
        pki.client_cert = client.cert;
        pki.client_key = client.key;
        Ok(pki)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&self.ca_key).map_err(pki_error)?;
        Ok(Issuer::new(ca_params(&self.ca_name), key))
    }

    /// A server certificate for a host, valid for each of `names` (IP addresses or DNS names).
    pub fn issue_server(
        &self,
        names: &[String],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Issued> {
        let mut params = CertificateParams::new(names.to_vec()).map_err(pki_error)?;
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        (params.not_before, params.not_after) = (not_before, not_after);
        let key = KeyPair::generate().map_err(pki_error)?;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(pki_error)?;
        Ok(Issued { cert: cert.pem(), key: key.serialize_pem() })
    }

    /// A client certificate (`clientAuth`) with common name `name`.
    pub fn issue_client(&self, name: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Issued> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        (params.not_before, params.not_after) = (not_before, not_after);
        let key = KeyPair::generate().map_err(pki_error)?;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(pki_error)?;
        Ok(Issued { cert: cert.pem(), key: key.serialize_pem() })
    }

    /// SHA-256 of the CA certificate's PEM, to compare on the host.
    pub fn ca_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = hex::encode(Sha256::digest(self.ca_cert.as_bytes()));
        digest.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect::<Vec<_>>().join(":")
    }
}

/// What an admin runs on a host to let Berth in over mutual TLS.
#[derive(Clone, Debug)]
pub struct HostSetup {
    pub names: Vec<String>,
    pub script: String,
    pub ca_fingerprint: String,
}

/// Host names and addresses a server certificate may name: IPs or DNS names, 1–10 of them.
fn validate_host_names(names: &[String]) -> Result<Vec<String>> {
    let names: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()).collect();
    if names.is_empty() || names.len() > 10 {
        return Err(Error::invalid("addresses", "give 1 to 10 addresses or names of the host"));
    }
    for name in &names {
        let ok = name.parse::<std::net::IpAddr>().is_ok()
            || (name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                }));
        if !ok {
            return Err(Error::invalid("addresses", format!("{name:?} is neither an IP address nor a host name")));
        }
    }
    Ok(names)
}

/// The shell script that installs the certificates and restarts dockerd listening with `--tlsverify`
/// on port 2376 (and its unix socket).
fn setup_script(ca: &str, server: &Issued, fingerprint: &str, names: &[String]) -> String {
    format!(
        r#"#!/bin/sh
# Berth host setup for {names}. Run as root on the host. It contains the host's private key:
# keep it to yourself and delete it afterwards.
# Berth's CA fingerprint (SHA-256 of ca.pem): {fingerprint}
set -eu
dir=/etc/docker/berth
mkdir -p "$dir"
umask 077
cat > "$dir/ca.pem" <<'BERTH_CA'
{ca}BERTH_CA
cat > "$dir/server-cert.pem" <<'BERTH_CERT'
{cert}BERTH_CERT
cat > "$dir/server-key.pem" <<'BERTH_KEY'
{key}BERTH_KEY
chmod 0644 "$dir/ca.pem" "$dir/server-cert.pem"
chmod 0600 "$dir/server-key.pem"
flags="--tlsverify --tlscacert=$dir/ca.pem --tlscert=$dir/server-cert.pem --tlskey=$dir/server-key.pem -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376"
if [ -d /run/systemd/system ]; then
  mkdir -p /etc/systemd/system/docker.service.d
  cat > /etc/systemd/system/docker.service.d/berth.conf <<BERTH_UNIT
[Service]
ExecStart=
ExecStart=/usr/bin/dockerd $flags --containerd=/run/containerd/containerd.sock
BERTH_UNIT
  systemctl daemon-reload
  systemctl restart docker
  echo "dockerd now listens on tcp://0.0.0.0:2376 with mutual TLS."
else
  echo "No systemd here: restart dockerd with these flags:"
  echo "  dockerd $flags"
fi
"#,
        names = names.join(", "),
        ca = ca,
        cert = server.cert,
        key = server.key,
    )
}

impl Berth {
    /// The installation's CA and client identity, created (and sealed into the store) on first use.
    pub async fn pki(&self) -> Result<Arc<Pki>> {
        self.pki
            .get_or_try_init(|| async {
                let sealer = self.sealer()?;
                let stored = (
                    self.store.setting(CA_CERT).await?,
                    self.store.setting(CA_KEY).await?,
                    self.store.setting(CLIENT_CERT).await?,
                    self.store.setting(CLIENT_KEY).await?,
                );
                let ca_name = format!("Berth CA {}", self.installation().await?);
                let pki = match stored {
                    (Some(ca_cert), Some(ca_key), Some(client_cert), Some(client_key)) => Pki {
                        ca_cert,
                        ca_key: String::from_utf8(sealer.unseal(&ca_key)?)
                            .map_err(|_| pki_error(rcgen::Error::CouldNotParseKeyPair))?,
                        client_cert,
                        client_key: String::from_utf8(sealer.unseal(&client_key)?)
                            .map_err(|_| pki_error(rcgen::Error::CouldNotParseKeyPair))?,
                        ca_name,
                    },
                    _ => {
                        let pki = Pki::create(&ca_name)?;
                        self.store.setting_put(CA_CERT, &pki.ca_cert).await?;
                        self.store.setting_put(CA_KEY, &sealer.seal(pki.ca_key.as_bytes())?).await?;
                        self.store.setting_put(CLIENT_CERT, &pki.client_cert).await?;
                        self.store.setting_put(CLIENT_KEY, &sealer.seal(pki.client_key.as_bytes())?).await?;
                        pki
                    }
                };
                Ok(Arc::new(pki))
            })
            .await
            .cloned()
    }

    /// Issues a server certificate for a host and the script that installs it. Recorded in the
    /// history (the key itself never is).
    pub async fn prepare_host(&self, actor: &Actor, names: &[String]) -> Result<HostSetup> {
        let op = Op {
            action: "host.issue_certificate",
            permission: Permission::ClusterCreate,
            target: names.join(","),
            params: json!({ "names": names }),
        };
        self.mutate(actor, op, |_| async {
            let names = validate_host_names(names)?;
            let pki = self.pki().await?;
            let (from, until) = validity(825);
            let server = pki.issue_server(&names, from, until)?;
            let fingerprint = pki.ca_fingerprint();
            Ok(HostSetup {
                script: setup_script(&pki.ca_cert, &server, &fingerprint, &names),
                names,
                ca_fingerprint: fingerprint,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_certificates_from_one_ca() {
        let pki = Pki::create("Berth CA test").unwrap();
        assert!(pki.ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.client_key.contains("PRIVATE KEY"));
        let (from, until) = validity(1);
        let server = pki.issue_server(&["10.1.2.3".into(), "host.example".into()], from, until).unwrap();
        assert!(server.cert.contains("BEGIN CERTIFICATE") && server.key.contains("PRIVATE KEY"));
        assert_eq!(pki.ca_fingerprint().split(':').count(), 32);
        let script = setup_script(&pki.ca_cert, &server, &pki.ca_fingerprint(), &["10.1.2.3".into()]);
        assert!(
            script.contains("--tlsverify") && script.contains(&server.cert) && script.contains("tcp://0.0.0.0:2376")
        );
    }

    #[test]
    fn host_names() {
        assert_eq!(
            validate_host_names(&["10.0.0.5".into(), " Node-1.Example ".into()]).unwrap(),
            ["10.0.0.5", "node-1.example"]
        );
        for bad in [vec![], vec!["a b".to_string()], vec!["x;rm -rf".to_string()], vec!["".to_string()]] {
            assert!(matches!(validate_host_names(&bad), Err(Error::Invalid { .. })), "{bad:?}");
        }
    }
}
