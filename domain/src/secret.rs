//! Sealing secrets at rest (SECURITY.md S9): keys Berth keeps in its database (its CA key, its client
//! key for remote hosts; later registry passwords and secret values) are encrypted with
//! ChaCha20-Poly1305 under a key that lives in a file beside the database, never in it. And the
//! random tokens of every kind (sessions, invites, API tokens, shared links, the first-admin link)
//! with the SHA-256 hash under which they are stored.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Internal, Result};

const PREFIX: &str = "sealed:v1:";

/// Seals and opens secrets with the installation's key.
pub struct Sealer {
    key: LessSafeKey,
    /// For fingerprints of secret values (a keyed hash: without the key file a fingerprint
    /// cannot confirm a guess, as a bare hash of a short secret could).
    fingerprints: ring::hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn fail(what: impl std::fmt::Display) -> Error {
    Error::Internal(Internal::Other(format!("sealing: {what}")))
}

impl Sealer {
    /// Loads the 32-byte key from `path`, creating it (readable by the owner only) when missing.
    pub fn open(path: &Path) -> Result<Sealer> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                SystemRandom::new().fill(&mut key).map_err(|_| fail("no randomness"))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
                }
                let created = {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
                };
                let mut file = match created {
                    Ok(file) => file,
                    // Another thread or replica made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Sealer::open(path),
                    Err(e) => return Err(fail(format!("{}: {e}", path.display()))),
                };
                file.write_all(&key).map_err(|e| fail(format!("{}: {e}", path.display())))?;
                key.to_vec()
            }
            Err(e) => return Err(fail(format!("{}: {e}", path.display()))),
        };
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| fail(format!("{} is not a key", path.display())))?;
        // A key of its own for fingerprints, derived from the sealing key (never the same bytes).
        let derived =
            ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes), b"berth fingerprints v1");
        let fingerprints = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
        Ok(Sealer { key: LessSafeKey::new(key), fingerprints })
    }

    /// A short keyed fingerprint of a secret value: equal values give equal fingerprints within
    /// one installation, and nobody without the key file can test a guess against it.
    pub fn fingerprint(&self, data: &[u8]) -> String {
        hex::encode(&ring::hmac::sign(&self.fingerprints, data).as_ref()[..8])
    }

    /// `sealed:v1:<hex nonce and ciphertext>`; a fresh random nonce each time.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| fail("no randomness"))?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buffer)
            .map_err(|_| fail("cannot seal"))?;
        let mut out = nonce.to_vec();
        out.extend(buffer);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    pub fn unseal(&self, sealed: &str) -> Result<Vec<u8>> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(|| fail("not a sealed value"))?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail("bad nonce"))?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| fail("cannot open (wrong key file, or the value was altered)"))?;
        Ok(plain.to_vec())
    }
}

/// 32 random bytes, hex-encoded.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Internal::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_tampering() {
        let dir = tempfile_dir();
        let path = dir.join("secret.key");
        let sealer = Sealer::open(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = sealer.seal(b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("PRIVATE"));
        assert_ne!(sealed, sealer.seal(b"-----BEGIN PRIVATE KEY-----").unwrap(), "fresh nonce each time");
        assert_eq!(sealer.unseal(&sealed).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        // The same file gives the same key.
        assert_eq!(Sealer::open(&path).unwrap().unseal(&sealed).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        let mut tampered = sealed.clone();
        tampered.replace_range(tampered.len() - 2.., "00");
        assert!(sealer.unseal(&tampered).is_err());
        let other = Sealer::open(&dir.join("other.key")).unwrap();
        assert!(other.unseal(&sealed).is_err(), "another key cannot open it");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-sealer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
