//! Fuzz target: IPFIX records packed into messages by the exporter, decoded back (see control::fuzz_harness).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    control::fuzz_harness::ipfix(data);
});
