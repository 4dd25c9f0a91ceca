//! Fuzz target: both directions of an RTSP connection, as segments, through the RTSP ALG with
//! sequence correction (see alg::fuzz_harness_rtsp for the input format).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    alg::fuzz_harness_rtsp::rtsp(data);
});
