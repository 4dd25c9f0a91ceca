//! Fuzz target: arbitrary frames into both ports of a worker (see dataplane::fuzz_harness).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dataplane::fuzz_harness::run(data));
