//! Replays every committed cargo-fuzz corpus file of the `stripe_signature`
//! and `stripe_event` targets (`fuzz/corpus/`) through the very checks the
//! fuzz targets run (`fuzz/harness/stripe.rs`), so the ordinary test run
//! covers the corpus — and every crash once found and added to it —
//! without cargo-fuzz or a nightly compiler.

#[path = "../../../fuzz/harness/stripe.rs"]
mod harness;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).expect("corpus file");
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the {target} corpus is committed");
    files
}

#[test]
fn every_signature_corpus_input_is_parsed_and_verified_without_panicking() {
    for (path, bytes) in corpus("stripe_signature") {
        eprintln!("{}", path.display());
        harness::signature(&bytes);
    }
}

#[test]
fn the_signature_corpus_holds_a_valid_a_stale_and_a_forged_delivery() {
    use stripe_client::webhook::{WebhookError, verify};
    let now = time::OffsetDateTime::from_unix_timestamp(harness::NOW).unwrap();
    let outcome = |name: &str| {
        let (_, bytes) = corpus("stripe_signature")
            .into_iter()
            .find(|(path, _)| path.ends_with(name))
            .unwrap_or_else(|| panic!("corpus file {name}"));
        let (header, payload) = harness::split(&bytes);
        verify(payload, header, harness::SECRET, now)
    };
    assert_eq!(outcome("valid"), Ok(()));
    assert_eq!(outcome("rolling_secrets"), Ok(()));
    assert!(matches!(
        outcome("stale"),
        Err(WebhookError::TimestampOutsideTolerance { .. })
    ));
    assert_eq!(
        outcome("wrong_secret"),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn every_event_corpus_input_is_parsed_without_panicking() {
    let mut parsed = 0;
    for (path, bytes) in corpus("stripe_event") {
        eprintln!("{}", path.display());
        harness::event(&bytes);
        parsed += usize::from(stripe_client::webhook::parse_event(&bytes).is_ok());
    }
    assert!(
        parsed >= 8,
        "the seeds include real events: {parsed} parsed"
    );
}
