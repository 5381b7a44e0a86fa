DROP TABLE IF EXISTS stripe_calls;
