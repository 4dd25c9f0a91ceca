//! Fuzz target: both directions of a PPTP control connection, as segments, through the PPTP
//! ALG (see alg::fuzz_harness_pptp for the input format).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness_pptp::pptp(data);
});
