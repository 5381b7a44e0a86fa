//! `manage wait_for_db`: wait until PostgreSQL answers `SELECT 1`.

use crate::messages::{describe, redact_url};
use crate::waiting::{MAX_SECS, Patience, Ready, wait_until_ready};
use clap::Args;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub timeout: u64,

    /// Seconds between attempts.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=MAX_SECS))]
    pub interval: u64,
}

pub async fn run(database_url: &str, opts: &Opts) -> anyhow::Result<Ready> {
    // Waiting cannot make another database speak PostgreSQL: fail at once.
    let given: &[(&str, &str)] = &[("DATABASE_URL", database_url)];
    domain::settings::database_url(&given, database_url)?;
    let service = format!("PostgreSQL at {}", redact_url(database_url));
    let patience = Patience::from_secs(opts.timeout, opts.interval);
    let attempts = wait_until_ready(&service, patience, || select_one(database_url))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Ready { service, attempts })
}

async fn select_one(database_url: &str) -> Result<(), String> {
    let mut conn = match AsyncPgConnection::establish(database_url).await {
        Ok(conn) => conn,
        Err(e) => {
            // The driver says only "error connecting to server"; a plain TCP
            // connect tells why (refused, unknown host, ...).
            let reason = match server_address(database_url) {
                Some(address) => match tokio::net::TcpStream::connect(&address).await {
                    Err(tcp) => format!("{}: {tcp}", describe(&e)),
                    Ok(_) => describe(&e),
                },
                None => describe(&e),
            };
            return Err(reason);
        }
    };
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map(drop)
        .map_err(|e| describe(&e))
}

/// `host:port` of a `postgres://` URL (port 5432 when absent).
fn server_address(database_url: &str) -> Option<String> {
    let rest = database_url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rsplit_once(':') {
        Some((_, port)) => !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    Some(if has_port && !host_port.ends_with(']') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    })
}

pub fn print(ready: &Ready, json: bool) -> anyhow::Result<()> {
    ready.print(json)
}

#[cfg(test)]
mod tests {
    use super::server_address;

    #[test]
    fn server_address_reads_host_and_port() {
        assert_eq!(
            server_address("postgres://u:p@db.internal:6543/payments?sslmode=require").as_deref(),
            Some("db.internal:6543")
        );
        assert_eq!(
            server_address("postgres://postgres@127.0.0.1/payments").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            server_address("postgres://[::1]/payments").as_deref(),
            Some("[::1]:5432")
        );
        assert_eq!(server_address("postgres:///payments"), None);
    }
}
