set -e
A=postgres://postgres@127.0.0.1:5432/postgres
U=postgres://postgres@127.0.0.1:5432/payments_exp
psql -q $A -c "DROP DATABASE IF EXISTS payments_exp WITH (FORCE)" -c "CREATE DATABASE payments_exp"
DATABASE_URL=$U target/release/manage migrate >/dev/null
DATABASE_URL=$U target/release/manage seed_bench --payments 120000 --users 50 --expired 0 >/dev/null
psql -Atq $U <<'SQL'
INSERT INTO sessions (key_hash, user_id, csrf_token, expires_at)
SELECT md5(id::text), id, 'csrf', now() + interval '1 day' FROM users;
CREATE TABLE bench_limit_targets AS
SELECT row_number() OVER (ORDER BY random()) AS n, p.id AS payment_id, p.order_id, p.user_id,
       p.stripe_session_id AS session_id, s.key_hash,
       i[1] AS p1, q[1] AS q1, i[2] AS p2, q[2] AS q2,
       'stock:' || i[1] AS r1, 'stock:' || i[2] AS r2
FROM payments p
JOIN orders o ON o.id = p.order_id AND o.coupon_id IS NULL
JOIN LATERAL (SELECT array_agg(product_id ORDER BY product_id) AS i,
                     array_agg(quantity ORDER BY product_id) AS q
              FROM order_items WHERE order_id = p.order_id) it ON cardinality(it.i) = 2
JOIN LATERAL (SELECT key_hash FROM sessions WHERE user_id = p.user_id LIMIT 1) s ON TRUE
WHERE p.status = 'PENDING';
CREATE UNIQUE INDEX ON bench_limit_targets (n);
CREATE SEQUENCE bench_limit_seq;
ANALYZE;
SELECT count(*) FROM bench_limit_targets;
SQL
