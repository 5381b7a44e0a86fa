//! Integration tests of the payments API: one binary, one module per feature.

mod access_log;
mod auth;
mod cancel;
mod checkout;
mod demo;
mod helpers;
mod hostile_input;
mod operations;
mod payments;
mod security;
mod security_logs;
mod tasks;
mod webhook;
