//! The CLI's password rule (a minimum length) over the domain's Argon2id
//! hashing, so every caller stores the same PHC strings.

use anyhow::ensure;

pub use domain::auth::password::verify_password as password_matches;

pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes `password` with Argon2id (default parameters, fresh salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "password must have at least {MIN_PASSWORD_CHARS} characters"
    );
    Ok(domain::auth::password::hash_password(password)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_refused() {
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn long_enough_passwords_hash_to_phc_strings_that_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(password_matches("correct horse", &phc));
    }
}
