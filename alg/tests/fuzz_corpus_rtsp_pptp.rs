//! Replays the cargo-fuzz seed corpora of the RTSP and PPTP targets (`fuzz/corpus/{rtsp,pptp}`,
//! written by `scripts/make-rtsp-pptp-seeds.py`, plus anything the fuzzer added) through the
//! harnesses the fuzz targets run, and checks what the hand-built seeds must produce.
#![allow(clippy::unwrap_used)]

use alg::fuzz_harness_pptp::pptp;
use alg::fuzz_harness_rtsp::rtsp;
use alg::pptp::PptpError;
use alg::rtsp::RtspError;
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

fn seed<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn rtsp_corpus_replays() {
    let files = corpus("rtsp");
    for (_, data) in &files {
        rtsp(data);
    }
    let run = |name| rtsp(seed(&files, name));
    let mre = |k: &alg::AlgCounters<RtspError>| (k.messages, k.rewrites, k.expectations);

    // Two SETUPs and their replies (4 rewrites: request and reply each), TEARDOWN.
    let k = run("vlc_session");
    assert_eq!(mre(&k), (5, 4, 4));
    assert_eq!(k.total_failures(), 0);
    let k = run("ffmpeg_udp");
    assert_eq!(mre(&k), (2, 2, 2));
    // Interleaved: SETUP and TEARDOWN counted, nothing rewritten or expected, `$` frames skipped.
    let k = run("ffmpeg_tcp");
    assert_eq!((mre(&k), k.total_failures()), ((2, 0, 0), 0));
    let k = run("gstreamer_multi");
    assert_eq!(mre(&k), (2, 2, 2));
    let k = run("split_setup");
    assert_eq!(mre(&k), (2, 2, 2));
    assert_eq!(k.failed(RtspError::SplitMessage), 1);
    let k = run("destination_third_party");
    assert_eq!(k.failed(RtspError::ThirdPartyDestination), 2);
    assert_eq!((k.messages, k.rewrites), (2, 4));
    let k = run("slipstream_post");
    assert_eq!(mre(&k), (0, 0, 0));
    assert_eq!(k.failed(RtspError::NotRtsp), 1);
    let k = run("bad_ports");
    assert_eq!((k.messages, k.failed(RtspError::BadPort)), (1, 2));
    assert_eq!(k.failed(RtspError::PrivilegedPort), 1);
    assert_eq!(k.failed(RtspError::OddRtpPort), 1);
    assert_eq!(k.failed(RtspError::BadPortRange), 1);
    let k = run("refused_setup");
    assert_eq!(mre(&k), (2, 1, 0));
}

#[test]
fn pptp_corpus_replays() {
    let files = corpus("pptp");
    for (_, data) in &files {
        pptp(data);
    }
    let run = |name| pptp(seed(&files, name));
    let mre = |k: &alg::AlgCounters<PptpError>| (k.messages, k.rewrites, k.expectations);

    let k = run("pptp_linux_call");
    assert_eq!(mre(&k), (13, 5, 1));
    assert_eq!(k.total_failures(), 0);
    let k = run("two_calls");
    assert_eq!(mre(&k), (8, 4, 2));
    let k = run("incoming_call");
    assert_eq!(mre(&k), (9, 3, 1));
    let k = run("split_messages");
    assert_eq!((k.rewrites, k.failed(PptpError::SplitMessage)), (2, 2));
    let k = run("out_of_state");
    assert_eq!(k.failed(PptpError::OutOfState), 4);
    assert_eq!(k.failed(PptpError::UnknownCall), 1);
    assert_eq!(k.failed(PptpError::BadMagic), 1);
    assert_eq!(k.failed(PptpError::Truncated), 1);
    assert_eq!(k.failed(PptpError::NotAtBoundary), 1);
    assert_eq!(k.rewrites, 0);
}
