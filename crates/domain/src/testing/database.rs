//! One PostgreSQL database per test, migrated from the embedded migrations
//! and dropped when the test ends, so tests run in parallel in isolation.

use crate::db::{DbPool, pool, run_migrations};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::time::Duration;

/// Where test databases are created: `TEST_DATABASE_URL`, else
/// `DATABASE_URL`, else the local server.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

pub struct TestDatabase {
    name: String,
    url: String,
    pool: DbPool,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let admin = admin_url();
        let name = format!("payments_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = with_database(&admin, &name);
        run_migrations(&url).await.expect("migrate test database");
        let pool = pool(&url, 60, Duration::from_secs(30));
        Self { name, url, pool }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub async fn conn(&self) -> crate::db::PooledConn<'_> {
        self.pool.get().await.expect("test connection")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_url();
        // Drop runs outside any runtime guarantee: use a private one.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_replaces_the_path_and_keeps_options() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h/db", "t2"),
            "postgres://u@h/t2"
        );
    }
}
