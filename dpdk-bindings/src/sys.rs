//! Raw FFI bindings: bindgen output for the allowlisted part of DPDK 22.11
//! plus the C shim (`shim_*`, see `src/shim.h`) that exports DPDK's
//! `static inline` fast-path functions.
//!
//! This module owns nothing and checks nothing: every function here is
//! `unsafe` and the invariants are the ones documented by DPDK. It is public
//! only so that [`crate::Mbuf::into_raw`]/[`crate::Mbuf::from_raw`] can name
//! `rte_mbuf`; the rest of the workspace should use the safe wrappers at the
//! crate root. Lints are relaxed because the code is generated.

#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_docs,
    missing_debug_implementations,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::unwrap_used
)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
