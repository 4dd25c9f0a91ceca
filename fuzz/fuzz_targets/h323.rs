//! Fuzz target: H.323 — a Q.931/H.225.0 or H.245 byte stream cut into TPKT-tracked segments,
//! or one RAS datagram, through the H.323 ALG (see alg::fuzz_harness_h323 for the input
//! format and the invariants checked).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness_h323::h323(data);
});
