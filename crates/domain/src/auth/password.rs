//! Passwords are stored as Argon2id PHC strings, never in clear.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct HashError(String);

/// Hashes with Argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// `true` only when `password` matches `stored` (a malformed hash never matches).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`verify_password`] on the blocking thread pool, at most one per CPU at
/// a time. Each verification fills a 19 MiB work area for tens of
/// milliseconds of pure CPU: running more at once is not faster, it only
/// multiplies the memory (a burst of 51 logins once held ~490 MB).
pub async fn verify_password_off_thread(
    password: String,
    stored: String,
) -> Result<bool, tokio::task::JoinError> {
    static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        tokio::sync::Semaphore::new(cpus)
    });
    // The semaphore is never closed, so acquiring cannot fail.
    let _slot = SLOTS.acquire().await.expect("semaphore never closed");
    tokio::task::spawn_blocking(move || verify_password(&password, &stored)).await
}

/// A hash to verify against when the account does not exist, so an
/// unknown e-mail costs the same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy-password-for-timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "not-a-hash"));
        assert_ne!(hash, hash_password("s3cret").unwrap(), "salted");
    }

    #[tokio::test]
    async fn verifications_off_thread_agree_with_the_direct_check() {
        let hash = hash_password("s3cret").unwrap();
        let checks = (0..6).map(|i| {
            let password = if i % 2 == 0 { "s3cret" } else { "wrong" };
            verify_password_off_thread(password.to_owned(), hash.clone())
        });
        let results: Vec<bool> = futures::future::join_all(checks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, [true, false, true, false, true, false]);
    }
}
