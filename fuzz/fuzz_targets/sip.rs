//! Fuzz target: a SIP datagram, or one direction of a SIP-over-TCP connection cut into
//! segments, through the SIP ALG with rewriting and sequence correction (see
//! alg::fuzz_harness_sip for the input format and the invariants checked).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness_sip::sip(data);
});
