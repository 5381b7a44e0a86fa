//! `manage create_user`: create a user, or update the password and staff
//! flag of an existing one (the e-mail is the key, case-insensitive), as
//! provisioning scripts expect of a repeated run; the output says which
//! happened and shows a role change.

use crate::password::hash_password;
use anyhow::Context;
use clap::Args;
use diesel_async::AsyncPgConnection;
use domain::models::user::User;
use domain::values::email::Email;
use serde::Serialize;
use std::fmt;

#[derive(Clone, Args)]
pub struct Opts {
    /// E-mail address (login); stored lower-case.
    #[arg(long, value_parser = parse_email)]
    pub email: Email,

    /// Password, at least 8 characters; stored only as an Argon2id hash.
    /// Prefer the environment variable, which other users cannot see.
    #[arg(long, env = "MANAGE_USER_PASSWORD", hide_env_values = true)]
    pub password: String,

    /// Make the user staff (operators' endpoints and commands).
    #[arg(long)]
    pub staff: bool,
}

impl fmt::Debug for Opts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opts")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("staff", &self.staff)
            .finish()
    }
}

/// For clap: an invalid address is a usage error (exit status 2).
pub fn parse_email(raw: &str) -> Result<Email, String> {
    Email::parse(raw).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedUser {
    pub id: i64,
    pub email: String,
    pub is_staff: bool,
    /// False: the account existed and got the new password and role.
    pub created: bool,
    /// The role before an update, so that a demotion is visible.
    pub was_staff: Option<bool>,
}

pub async fn run(conn: &mut AsyncPgConnection, opts: &Opts) -> anyhow::Result<SavedUser> {
    let password_hash = hash_password(&opts.password)?;
    let cannot = || format!("cannot save user {}", opts.email);
    let before = User::find_by_email(conn, &opts.email)
        .await
        .with_context(cannot)?;
    let user = User::upsert(conn, &opts.email, &password_hash, opts.staff)
        .await
        .with_context(cannot)?;
    tracing::info!(target: "payments", user = user.id.0, staff = user.is_staff,
        created = before.is_none(), "user saved");
    Ok(SavedUser {
        id: user.id.0,
        email: user.email,
        is_staff: user.is_staff,
        created: before.is_none(),
        was_staff: before.map(|b| b.is_staff),
    })
}

fn role(is_staff: bool) -> &'static str {
    if is_staff { "staff" } else { "customer" }
}

pub fn print(user: &SavedUser, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(user);
    }
    let now = role(user.is_staff);
    match user.was_staff {
        None => println!("created user {} (id {}, {now})", user.email, user.id),
        Some(was) if was == user.is_staff => println!(
            "updated user {} (id {}, still {now}): new password",
            user.email, user.id
        ),
        Some(was) => println!(
            "updated user {} (id {}, {} -> {now}): new password",
            user.email,
            user.id,
            role(was)
        ),
    }
    Ok(())
}
