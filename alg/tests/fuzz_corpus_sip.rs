//! Replays the cargo-fuzz seed corpus of the SIP ALG (`fuzz/corpus/sip`, written by
//! `scripts/sip-fuzz-seeds.py`, plus any inputs the fuzzer added) through the harness the
//! fuzz target runs, and checks what the hand-written seeds must produce.
#![allow(clippy::unwrap_used)]

use alg::fuzz_harness_sip;
use alg::sip::SipError;
use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sip");
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
fn sip_corpus_replays() {
    let files = corpus();
    for (_, data) in &files {
        fuzz_harness_sip::sip(data);
    }
    let run = |name: &str| {
        let data = &files.iter().find(|(n, _)| n == name).unwrap().1;
        fuzz_harness_sip::sip(data)
    };
    for name in [
        "udp_uac_invite",
        "udp_uac_invite_lf",
        "udp_uac_invite_cr",
        "udp_uac_invite_public_5060",
    ] {
        let k = run(name);
        assert_eq!(
            (k.messages, k.rewrites, k.expectations),
            (1, 1, 2),
            "{name}"
        );
    }
    let k = run("udp_uas_200");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 2));
    let k = run("udp_register");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 0));
    let k = run("udp_register_200");
    assert_eq!(k.failed(SipError::RegisterUnmatched), 1);
    let k = run("udp_compact");
    assert_eq!((k.messages, k.expectations), (1, 6));
    assert_eq!(run("udp_maddr").failed(SipError::Maddr), 1);
    assert_eq!(run("udp_foreign_c").failed(SipError::AddressMismatch), 1);
    let k = run("udp_keepalive");
    assert_eq!(k.messages + k.total_failures(), 0);
    // Segments of 64 bytes: after MAX_SPLIT_HOLDS holds the coalesced retransmission (256
    // bytes) still does not hold a whole message: every message passes unmodified.
    let k = run("tcp_uac_seg_64");
    assert_eq!((k.messages, k.rewrites, k.expectations), (0, 0, 0), "{k:?}");
    assert_eq!(k.failed(SipError::SplitMessage), 16, "{k:?}");
    for name in [
        "tcp_uac_one_segment",
        "tcp_uac_seg_240_lazy_ack",
        "tcp_uac_lf_seg_224",
        "tcp_uac_cr_seg_224",
    ] {
        let k = run(name);
        assert_eq!((k.messages, k.rewrites), (4, 4), "{name}: {k:?}");
        assert_eq!(k.expectations, 2, "{name}: {k:?}");
    }
    let k = run("tcp_compact_seg_128");
    assert_eq!(k.messages, 2, "{k:?}");
    let k = run("tcp_uas_200");
    assert_eq!((k.messages, k.expectations), (2, 2));
    let k = run("tcp_slipstream_post_register");
    assert_eq!((k.messages, k.rewrites, k.expectations), (0, 0, 0));
    assert_eq!(k.failed(SipError::NotSipStream), 1);
    let k = run("tcp_no_content_length");
    assert_eq!(k.failed(SipError::MissingContentLength), 1);
    assert_eq!(k.messages, 0);
}
