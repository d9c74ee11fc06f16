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

/// The common-password list (zxcvbn's, six characters and longer), lower-case.
fn common() -> &'static std::collections::HashSet<&'static str> {
    static COMMON: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    COMMON.get_or_init(|| {
        include_str!("common-passwords.txt").lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
    })
}

/// Whether a password is one people commonly pick: on the list, a listed word with digits or
/// punctuation around it (`password1234!`), or a short pattern repeated (`abcabcabcabc`).
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let common = common();
    if common.contains(lower.as_str()) {
        return true;
    }
    let core = lower.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    if core.len() >= 6 && common.contains(core) {
        return true;
    }
    let chars: Vec<char> = lower.chars().collect();
    (1..=4).any(|period| chars.len() > period && chars.iter().enumerate().all(|(i, c)| *c == chars[i % period]))
}

/// Checks a password chosen for an account.
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
    if is_common(password) {
        return Err(Error::invalid("password", "is too common; choose one that others do not use"));
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
            ("qwerty123456", false),
            ("Password12345!", false),
            ("  football2024 ", false),
            ("aaaaaaaaaaaaaa", false),
            ("abcdabcdabcdabcd", false),
            ("river otter maple", true),
        ];
        for (pw, ok) in cases {
            assert_eq!(check_new(pw).is_ok(), ok, "{pw:?}");
        }
        let long: String = (0..MAX_LENGTH).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        assert!(check_new(&long).is_ok(), "a long password is accepted");
        let err = check_new("sunshine123456").unwrap_err();
        assert!(err.to_string().contains("too common"), "{err}");
        let err = check_new(&"x".repeat(MAX_LENGTH + 1)).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "password"));
    }
}
