//! Replays the cargo-fuzz seed corpora of the control plane (`fuzz/corpus/{config,ipfix,syslog,
//! jsonl}`, plus whatever the fuzzer added there) through the same harnesses the fuzz targets
//! run, so `cargo test` covers them, and checks what the hand-written seeds must produce.
#![allow(clippy::unwrap_used)]

use control::fuzz_harness;
use std::path::PathBuf;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn config_corpus_replays_and_example_configs_are_valid() {
    let files = corpus("config");
    let mut valid = Vec::new();
    for (name, data) in &files {
        if fuzz_harness::config(data).is_some() {
            valid.push(name.as_str());
        }
    }
    // The example configs shipped in the repository validate (and survive the TOML round
    // trip inside the harness); the hand-written bad ones do not.
    for name in [
        "lab_cgnat.toml",
        "minimal.toml",
        "full.toml",
        "pktgen_dynamic.toml",
        "pktgen_deterministic.toml",
        "doc_readme_0.toml",
        "doc_real-nics_0.toml",
    ] {
        assert!(valid.contains(&name), "{name} does not validate");
    }
    for name in ["bad_prefix.toml", "bad_syntax.toml", "bad_unknown_key.toml"] {
        assert!(!valid.contains(&name), "{name} validates");
    }
}

#[test]
fn ipfix_corpus_replays() {
    let files = corpus("ipfix");
    for (_, data) in &files {
        fuzz_harness::ipfix(data);
    }
    let run = |name: &str| fuzz_harness::ipfix(&files.iter().find(|(n, _)| n == name).unwrap().1);
    // 8 records: 2 blocks (256), sessions without and with destination (257, 258), addresses
    // (259), ports (260) and quota (261) exhausted, and an exhaustion record with natEvent 16,
    // which falls back to the ports-exhausted layout: one message, 7 sets.
    assert_eq!(
        run("all_templates_1400"),
        (1, 16 + 7 * 4 + 2 * 25 + 22 + 28 + 13 + 17 + 17 + 17)
    );
    // 60 port blocks of 25 octets into 484-octet messages: 18 a message (16 + 4 + 450).
    assert_eq!(run("many_blocks_512"), (4, 470));
    // max_len 40 < MIN_MESSAGE_LEN (48): the first record (a block, 16 + 4 + 25) does not fit.
    assert_eq!(run("too_small"), (0, 0));
    // 4096 records, max_len above 65 535: clamped, messages filled to within one record.
    let (messages, largest) = run("fill_64k");
    assert!(
        messages >= 2 && largest <= 65_535 && largest > 65_535 - 32,
        "{messages} {largest}"
    );
}

#[test]
fn syslog_corpus_replays() {
    for (_, data) in corpus("syslog") {
        fuzz_harness::syslog(&data);
    }
}

#[test]
fn jsonl_corpus_replays() {
    for (_, data) in corpus("jsonl") {
        fuzz_harness::jsonl(&data);
    }
}
