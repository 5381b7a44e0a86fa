#![no_main]

// Each target uses one of the harness's checks.
#[allow(dead_code)]
#[path = "../harness/stripe.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::signature(data));
