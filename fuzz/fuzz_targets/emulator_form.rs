#![no_main]

// Each target uses one of the harness's checks.
#[allow(dead_code)]
#[path = "../harness/emulator.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::form(data));
