//! The Lua scripts that change the chain hash atomically.

use redis::Script;
use std::sync::LazyLock;

pub(super) static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: chain hash, scheduled zset, data hash, meta prefix
-- ARGV: mode, token, task_id, next_run_at, dry_run, now, expected_token
local current = redis.call('HGET', KEYS[1], 'token')
local mode = ARGV[1]
if current then
  local old = redis.call('HGET', KEYS[1], 'task_id') or ''
  if mode == 'ensure' or (mode == 'replace_if' and current ~= ARGV[7]) then
    return {0, current, old}
  end
  if old ~= '' and redis.call('ZREM', KEYS[2], old) == 1 then
    redis.call('HDEL', KEYS[3], old)
    redis.call('DEL', KEYS[4] .. ':' .. old)
  end
elseif mode == 'replace_if' and ARGV[7] ~= '' then
  return {0, '', ''}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'task_id', ARGV[3], 'seq', 1,
  'next_run_at', ARGV[4], 'dry_run', ARGV[5], 'created_at', ARGV[6])
return {1, current or '', ARGV[3]}
",
    )
});

pub(super) static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: chain hash
-- ARGV: token, current task id, next task id, next seq, next_run_at, now, outcome
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local current = redis.call('HGET', KEYS[1], 'task_id')
-- a second run of the same link (orphan re-run) already advanced it
if current == ARGV[3] then return 2 end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'task_id', ARGV[3], 'seq', ARGV[4], 'next_run_at', ARGV[5],
  'last_run_at', ARGV[6], 'last_outcome', ARGV[7])
return 1
",
    )
});

pub(super) static UNSCHEDULE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: scheduled zset, data hash, meta prefix; ARGV: task id
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3] .. ':' .. ARGV[1])
  return 1
end
return 0
",
    )
});
