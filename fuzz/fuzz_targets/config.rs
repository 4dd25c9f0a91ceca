//! Fuzz target: config file text through Config::from_toml_str, as --check-config (see control::fuzz_harness).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    control::fuzz_harness::config(data);
});
