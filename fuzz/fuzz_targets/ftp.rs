//! Fuzz target: one direction of an FTP control connection, cut into segments, through the
//! FTP ALG with sequence correction (see alg::fuzz_harness for the input format).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness::ftp(data);
});
