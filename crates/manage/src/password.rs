//! Password hashing: Argon2id with a random salt, stored as a PHC string.

use anyhow::ensure;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes `password` with Argon2id (default parameters, fresh salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "password must have at least {MIN_PASSWORD_CHARS} characters"
    );
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC string (false for a malformed one).
pub fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(password_matches("correct horse", &phc));
        assert!(!password_matches("wrong horse", &phc));
    }

    #[test]
    fn the_same_password_gets_a_new_salt_each_time() {
        assert_ne!(
            hash_password("correct horse").unwrap(),
            hash_password("correct horse").unwrap()
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn malformed_hashes_never_match() {
        assert!(!password_matches("anything", "not-a-phc-string"));
    }
}
