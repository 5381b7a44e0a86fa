#![no_main]

#[path = "../harness/emulator.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::form(data));
