//! Fuzz target: one datagram to the TFTP server port through the TFTP ALG.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness::tftp(data);
});
