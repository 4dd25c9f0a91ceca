//! Fuzz target: LogEvents formatted as JSON lines, parsed back with serde_json (see control::fuzz_harness).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    control::fuzz_harness::jsonl(data);
});
