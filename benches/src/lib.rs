//! Shared helpers for the benchmarks and the end-to-end harness.
#![forbid(unsafe_code)]
