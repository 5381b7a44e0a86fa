//! `manage create_token`: give a user a new API token and print its key.
//! Only the key's SHA-256 is stored, so the key is shown this once.

use super::create_user::parse_email;
use anyhow::Context;
use clap::Args;
use diesel_async::AsyncPgConnection;
use domain::models::user::{User, insert_api_token};
use domain::values::email::Email;
use rand::Rng;
use serde::Serialize;

/// Random bytes in a key: 20 bytes, 40 hex characters.
const KEY_BYTES: usize = 20;

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// E-mail address of an existing user.
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
}

#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewToken {
    pub key: String,
}

/// Debug output never shows the key.
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A fresh random key: 40 lower-case hex characters.
pub fn new_token_key() -> String {
    hex::encode(rand::rng().random::<[u8; KEY_BYTES]>())
}

pub async fn run(conn: &mut AsyncPgConnection, opts: &Opts) -> anyhow::Result<NewToken> {
    let user = User::find_by_email(conn, &opts.email)
        .await
        .context("cannot look up the user")?
        .with_context(|| format!("no user with e-mail {}", opts.email))?;
    anyhow::ensure!(user.is_active, "user {} is not active", opts.email);
    let key = new_token_key();
    insert_api_token(conn, user.id, &key)
        .await
        .context("cannot store the token")?;
    tracing::info!(target: "payments", user = user.id.0, "API token created");
    Ok(NewToken { key })
}

pub fn print(token: &NewToken, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(token);
    }
    println!("{}", token.key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_40_hex_characters_and_differ() {
        let key = new_token_key();
        assert_eq!(key.len(), 40);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(key, new_token_key());
    }
}
