//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/{ftp,tftp}`, and any inputs the fuzzer
//! added there) through the same harnesses the fuzz targets run, so `cargo test` covers them,
//! and checks what the hand-written seeds must produce.
#![allow(clippy::unwrap_used)]

use alg::ftp::FtpError;
use alg::fuzz_harness;
use alg::tftp::TftpError;
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
fn ftp_corpus_replays() {
    let files = corpus("ftp");
    for (_, data) in &files {
        fuzz_harness::ftp(data);
    }
    let run = |name| fuzz_harness::ftp(seed(&files, name));

    let k = run("curl_active_port");
    assert_eq!((k.messages, k.rewrites, k.expectations), (2, 2, 2));
    let k = run("client_lowercase_spaces");
    assert_eq!((k.messages, k.rewrites), (3, 3));
    let k = run("client_split_8");
    assert_eq!(k.rewrites, 1);
    assert!(k.failed(FtpError::SplitCommand) >= 1);
    let k = run("client_split_lazy_ack");
    assert_eq!(k.rewrites, 3);
    let k = run("client_bounce");
    assert_eq!(k.rewrites, 0);
    assert_eq!(k.failed(FtpError::AddressMismatch), 2);
    assert_eq!(k.failed(FtpError::PrivilegedPort), 1);
    let k = run("client_unsynchronised");
    assert_eq!(k.failed(FtpError::NotAtBoundary), 1);
    assert_eq!(k.rewrites, 1);
    let k = run("vsftpd_pasv");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 0, 1));
    let k = run("vsftpd_epsv");
    assert_eq!(k.expectations, 1);
    let k = run("server_227_no_parens");
    assert_eq!(k.expectations, 3);
    let k = run("server_third_party");
    assert_eq!(k.failed(FtpError::ThirdPartyHost), 1);
    assert_eq!(k.expectations, 0);
    let k = run("server_inside_pasv");
    assert_eq!((k.rewrites, k.expectations), (2, 2));
    let k = run("server_auth_tls");
    assert_eq!(k.failed(FtpError::TlsStarted), 1);
    assert_eq!(k.messages, 0);
    let k = run("lftp_passive");
    assert_eq!(k.messages + k.total_failures(), 0);

    // Seeds captured in the lab (lab/tests/ftp_alg.sh, scripts/pcap-to-fuzz-seeds.py): real
    // curl/ftplib client streams and vsftpd replies.
    let lab = |prefix: &str| {
        let mut total = alg::AlgCounters::<FtpError>::default();
        for (_, data) in files.iter().filter(|(n, _)| n.starts_with(prefix)) {
            total.merge(&fuzz_harness::ftp(data));
        }
        total
    };
    let k = lab("lab_client_");
    assert!(k.rewrites > 0 && k.expectations > 0, "{k:?}");
    let k = lab("lab_server_");
    assert!(k.messages > 0 && k.expectations > 0, "{k:?}");
}

#[test]
fn tftp_corpus_replays() {
    let files = corpus("tftp");
    for (_, data) in &files {
        fuzz_harness::tftp(data);
    }
    let run = |name| fuzz_harness::tftp(seed(&files, name));
    for name in [
        "rrq_blksize",
        "rrq_pxe_tsize",
        "rrq_windowsize",
        "wrq_netascii",
    ] {
        assert_eq!(run(name).expectations, 1, "{name}");
    }
    assert_eq!(run("ack_not_request").failed(TftpError::NotRequest), 1);
    assert_eq!(run("error_not_request").failed(TftpError::NotRequest), 1);
    assert_eq!(run("rrq_unknown_mode").failed(TftpError::UnknownMode), 1);
    assert_eq!(run("rrq_no_nul").failed(TftpError::MissingNul), 1);
}

#[test]
fn h323_corpus_replays() {
    use alg::h323::H323Error;
    let files = corpus("h323");
    for (_, data) in &files {
        alg::fuzz_harness_h323::h323(data);
    }
    let run = |name| alg::fuzz_harness_h323::h323(seed(&files, name));

    let k = run("setup");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 3));
    assert_eq!(k.total_failures(), 0);
    // Cut into 16-byte segments: the Setup is split and passed.
    let k = run("setup_seg16_retx");
    assert_eq!(k.rewrites, 0);
    assert!(k.failed(H323Error::TpktSplit) >= 1);
    // From outside, the inside addresses are a third host's.
    let k = run("setup_outside");
    assert_eq!((k.rewrites, k.expectations), (0, 0));
    assert_eq!(k.failed(H323Error::ThirdPartyHost), 5);
    let k = run("facility_forward");
    assert_eq!((k.rewrites, k.expectations), (0, 0));
    assert_eq!(k.failed(H323Error::CallForwarding), 1);
    let k = run("two_tpkts");
    assert_eq!((k.messages, k.rewrites, k.expectations), (2, 2, 4));
    let k = run("ras_rrq");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 2));
    let k = run("h245_olc_ack");
    assert_eq!((k.messages, k.rewrites, k.expectations), (1, 1, 2));
    for (name, reason) in [
        ("setup_huge_count", H323Error::PerTooMany),
        ("setup_length_past_end", H323Error::PerTruncated),
        ("setup_fragmented", H323Error::PerFragmented),
        ("tpkt_length_3", H323Error::TpktBadLength),
        ("tpkt_truncated", H323Error::TpktSplit),
        ("h245_ext_bitmap_past_end", H323Error::PerTruncated),
    ] {
        let k = run(name);
        assert_eq!((k.rewrites, k.failed(reason)), (0, 1), "{name}: {k:?}");
    }
    let k = run("slipstream_post");
    assert_eq!(k.rewrites, 0);
    assert_eq!(k.failed(H323Error::TpktBadVersion), 1);
}
