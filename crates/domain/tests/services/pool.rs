//! The connection pool hands out connections that work, without a test
//! query on every checkout.

use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use domain::db;
use domain::testing::TestDatabase;
use std::time::{Duration, Instant};

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

async fn backend_pid(conn: &mut diesel_async::AsyncPgConnection) -> i32 {
    diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(conn)
        .await
        .expect("pid")
        .pid
}

#[tokio::test]
async fn a_connection_the_server_killed_while_idle_is_replaced_not_handed_out() {
    let db = TestDatabase::new().await;
    let pool = db::pool(db.url(), 1, Duration::from_secs(5));
    let killed = backend_pid(&mut pool.get().await.expect("conn")).await;

    diesel::sql_query(format!("SELECT pg_terminate_backend({killed})"))
        .execute(&mut *db.conn().await)
        .await
        .expect("terminate");
    wait_until_gone(&db, killed).await;
    // Time for the pooled connection's reader to see the socket close.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut conn = pool.get().await.expect("a connection");
    let pid = backend_pid(&mut conn).await;

    assert_ne!(pid, killed);
}

async fn wait_until_gone(db: &TestDatabase, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<Pid> = diesel::sql_query(format!(
            "SELECT pid FROM pg_stat_activity WHERE pid = {pid}"
        ))
        .load(&mut *db.conn().await)
        .await
        .expect("pg_stat_activity");
        if alive.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "backend {pid} never exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pool_that_cannot_connect_says_why_not_only_that_it_timed_out() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let pool = db::pool(
        &format!("postgres://postgres@127.0.0.1:{port}/nowhere"),
        2,
        Duration::from_millis(500),
    );

    let error = pool.get().await.err().expect("no database there");
    let reason = db::unavailable_reason(&error);

    assert!(
        reason.starts_with("timed out waiting for a connection"),
        "{reason}"
    );
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
}
