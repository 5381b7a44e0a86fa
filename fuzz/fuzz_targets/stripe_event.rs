#![no_main]

#[path = "../harness/stripe.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::event(data));
