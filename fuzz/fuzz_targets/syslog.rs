//! Fuzz target: LogEvents formatted as RFC 5424 lines, parsed back (see control::fuzz_harness).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    control::fuzz_harness::syslog(data);
});
