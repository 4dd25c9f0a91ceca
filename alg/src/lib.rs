//! Application-layer gateways: pure parsers and rewriters over payload bytes.
//!
//! An ALG reads the payload of one segment or datagram where it lies (`&[u8]`), and returns
//! small fixed-size values: [`Edit`]s (replace bytes `[offset, offset + len)` with a short text)
//! and [`Expectation`]s (a child flow the dataplane may let through and translate like its
//! master). Nothing here allocates, touches a packet buffer, or knows about DPDK or the
//! dataplane: the dataplane applies the edits in its buffer, fixes lengths and checksums, and
//! records the length change in a [`seq::SeqHistory`] so later sequence, ACK and SACK numbers
//! stay right.
//!
//! Every way a parse can fail is a variant of a small `Copy` error enum with a stable counter
//! name, and [`counters::AlgCounters`] keeps one plain `u64` per variant. See `docs/alg.md`.
#![forbid(unsafe_code)]

#[macro_use]
mod names;
pub mod counters;
pub mod edit;
pub mod expect;
pub mod framer;
pub mod ftp;
#[doc(hidden)]
pub mod fuzz_harness;
#[doc(hidden)]
pub mod fuzz_harness_h323;
#[doc(hidden)]
pub mod fuzz_harness_pptp;
#[doc(hidden)]
pub mod fuzz_harness_rtsp;
#[doc(hidden)]
pub mod fuzz_harness_sip;
pub mod h323;
pub mod pptp;
pub mod rtsp;
pub mod seq;
pub mod sip;
mod text;
pub mod tftp;

pub use counters::AlgCounters;
pub use edit::{apply_edits, Edit, EditError, EditList};
pub use expect::{Expectation, Protocol, Side};
pub use seq::{SeqError, SeqHistory};
