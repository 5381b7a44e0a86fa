//! Replays every committed cargo-fuzz corpus file of the `emulator_form`
//! target (`fuzz/corpus/emulator_form/`) through the check the fuzz target
//! runs (`fuzz/harness/emulator.rs`), so the ordinary test run covers the
//! corpus — and every crash once found and added to it — without
//! cargo-fuzz or a nightly compiler.

#[path = "../../../fuzz/harness/emulator.rs"]
mod harness;

use std::path::PathBuf;

#[test]
fn every_form_corpus_input_is_decoded_or_refused_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/emulator_form");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        eprintln!("{}", path.display());
        harness::form(&std::fs::read(&path).expect("corpus file"));
        count += 1;
    }
    assert!(count >= 10, "the emulator_form corpus is committed");
}

#[test]
fn the_form_corpus_decodes_a_real_checkout_session_request() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/emulator_form");
    let bytes = std::fs::read(dir.join("session_create")).expect("seed");
    let form: stripe_emulator::form::CreateSessionForm =
        stripe_emulator::form::parse(&bytes).expect("decodes");
    assert_eq!(form.line_items.len(), 1);
    assert_eq!(form.metadata["payment_id"], "pay_1");
}
