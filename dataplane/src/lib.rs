//! The cgnat dataplane: everything a worker core does to a packet.
//!
//! Generic over [`buf::PacketBuf`] so the same code runs on DPDK mbufs in `cgnatd` and on
//! plain byte buffers in tests, benches and fuzz targets. No DPDK, no tokio, no locks, no
//! heap allocation after a [`Worker`] is built. See `docs/architecture.md`.
#![forbid(unsafe_code)]

pub mod alg_glue;
pub mod bindings;
pub mod buf;
pub mod checksum;
pub mod config;
pub mod counters;
pub mod deterministic;
pub mod events;
pub mod expectations;
pub mod fragments;
pub mod fuzz_harness;
pub mod icmp_error;
mod icmp_gen;
pub mod index;
pub mod live;
pub mod lru;
pub mod mss;
pub mod nat;
pub mod neighbors;
pub mod port_block;
pub mod query;
pub mod session;
pub mod steer;
pub mod syn_hold;
pub mod timeouts;
mod translate;
pub mod wire;
pub mod worker;

pub use buf::{BufAlloc, PacketBuf, VecAlloc, VecBuf};
pub use config::{PortAddr, WorkerConfig};
pub use counters::{Counters, DropReason, Event};
pub use worker::{Side, Tx, Worker};
