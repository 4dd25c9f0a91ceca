//! Replays the committed `packet_path` fuzz corpus (seeds and any crash regressions) and a
//! proptest stream of random inputs through the same harness as the cargo-fuzz target, so the
//! packet path's "never panic, never emit garbage" promise is checked on every `make test`.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use proptest::prelude::*;

fn record(side: u8, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![side];
    v.extend_from_slice(&u16::try_from(frame.len()).unwrap().to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// Seeds: ARP to resolve neighbours, then traffic both ways (including frames aimed at the
/// harness's one-address pool, 203.0.113.1, ports 1024-1055).
fn seeds() -> Vec<Vec<u8>> {
    let pub_ip = [203, 0, 113, 1];
    let arp_nh = record(1, &arp_request(NH_MAC, SERVER, OUT_ADDR));
    let arp_sub = record(0, &arp_request(SUB_MAC, SUB1, IN_ADDR));
    let mut s = vec![];
    for p in 1024..1032u16 {
        let mut v = [arp_nh.clone(), arp_sub.clone()].concat();
        v.extend(record(
            0,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        ));
        v.extend(record(
            1,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pub_ip, p, 64, b"a"),
        ));
        s.push(v);
    }
    let mut v = [arp_nh.clone(), arp_sub.clone()].concat();
    v.extend(record(
        0,
        &tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, true, b""),
    ));
    v.extend(record(
        0,
        &echo(SUB_MAC, IN_MAC, SUB1, SERVER, 64, true, 9, 1),
    ));
    v.extend(record(
        2 | (60 << 2),
        &echo(SUB_MAC, IN_MAC, SUB1, IN_ADDR, 1, true, 9, 1),
    ));
    v.extend(record(
        0,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 1, b"ttl"),
    ));
    s.push(v);
    s
}

#[test]
fn seeds_run_clean() {
    for s in seeds() {
        dataplane::fuzz_harness::run(&s);
    }
}

#[test]
fn committed_corpus_runs_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/packet_path");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        dataplane::fuzz_harness::run(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

/// Writes the seeds into the corpus directory when CGNAT_WRITE_SEEDS is set.
#[test]
fn write_seeds_when_asked() {
    if std::env::var_os("CGNAT_WRITE_SEEDS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/packet_path");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), s).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn random_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        dataplane::fuzz_harness::run(&data);
    }

    /// Mutations of valid traffic (the interesting part of the space): flip bytes of a seed.
    #[test]
    fn mutated_seeds_never_panic(idx in 0usize..9, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut s = seeds()[idx].clone();
        for (i, v) in flips {
            let at = i.index(s.len());
            s[at] ^= v;
        }
        dataplane::fuzz_harness::run(&s);
    }
}
