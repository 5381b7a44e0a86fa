//! Accounts: password hashing (Argon2id).

pub mod password;
