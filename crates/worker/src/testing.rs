//! Test support shared by the worker's, manage's and the reliability
//! suite's tests (feature `testing`).

use std::time::Duration;

/// apalis-redis's global list of queues (every prefix's queues are in it).
const APALIS_QUEUE_LIST: &str = "core:apalis:queues:list";

/// Deletes every key under `prefix` and its queues' entries in apalis's
/// global queue list: a test's Redis state gone, or Redis losing its data
/// on purpose. Blocking client, so it also works from `Drop`; best effort
/// (an unreachable Redis has nothing to clean).
pub fn purge_redis(redis_url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap_or_default();
    for key in keys {
        let _: Result<(), _> = redis::cmd("DEL").arg(&key).query(&mut conn);
    }
    let queues: Vec<String> = redis::cmd("ZRANGE")
        .arg(APALIS_QUEUE_LIST)
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap_or_default();
    for queue in queues.into_iter().filter(|q| q.starts_with(prefix)) {
        let _: Result<(), _> = redis::cmd("ZREM")
            .arg(APALIS_QUEUE_LIST)
            .arg(queue)
            .query(&mut conn);
    }
}
