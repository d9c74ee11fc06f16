//! Password hashing with argon2id, bounded so that sign-in storms cannot starve the API.
//!
//! Parameters follow OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1). Hashing runs on the blocking
//! pool behind a semaphore: at most `concurrency` hashes at once, the rest wait their turn.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::{Error, Internal, Result};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Shortest password accepted for a new account.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted (in bytes), which bounds the hashing work an attacker can ask for.
pub const MAX_LENGTH: usize = 1024;

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's documented ranges.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a password chosen for a new account.
pub fn check_new(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(Error::invalid("password", format!("must be at least {MIN_LENGTH} characters")));
    }
    if password.len() > MAX_LENGTH {
        return Err(Error::invalid("password", format!("must be at most {MAX_LENGTH} bytes")));
    }
    if password.trim().is_empty() {
        return Err(Error::invalid("password", "must not be blank"));
    }
    Ok(())
}

/// Hashes and verifies passwords off the async threads, a bounded number at a time.
#[derive(Clone, Debug)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist so that unknown
    /// and known usernames take the same time.
    dummy: Arc<OnceCell<String>>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        Hasher { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: Arc::default() }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        let _permit = self.permits.acquire().await.map_err(|e| Internal::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::from(Internal::Hash(e.to_string())))
        })
        .await?
    }

    /// Whether `password` matches `phc`. With `None` (no such account) it does the same work against a
    /// dummy hash and answers `false`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let (phc, real) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => {
                let dummy = self.dummy.get_or_try_init(|| self.hash("berth-dummy-password")).await?;
                (dummy.clone(), false)
            }
        };
        let password = password.to_owned();
        let _permit = self.permits.acquire().await.map_err(|e| Internal::Hash(e.to_string()))?;
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| Internal::Hash(e.to_string()))?;
            Ok::<_, Error>(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await??;
        Ok(real && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_at_the_promised_cost() {
        let hasher = Hasher::new(1);
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery staple", Some(&phc)).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapl", Some(&phc)).await.unwrap());
        assert!(!hasher.verify("correct horse battery staple", None).await.unwrap());
        // Same password, different salt.
        assert_ne!(phc, hasher.hash("correct horse battery staple").await.unwrap());
    }

    #[test]
    fn new_password_rules() {
        let cases = [
            ("short", false),
            ("eleven char", false),
            ("twelve chars", true),
            ("            ", false),
            ("ünïcödé-pässwörd", true),
        ];
        for (pw, ok) in cases {
            assert_eq!(check_new(pw).is_ok(), ok, "{pw:?}");
        }
        assert!(check_new(&"x".repeat(MAX_LENGTH)).is_ok());
        let err = check_new(&"x".repeat(MAX_LENGTH + 1)).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "password"));
    }
}
