//! Drives a worker with arbitrary bytes: the body of the `packet_path` cargo-fuzz target and of
//! the corpus-replay test, kept here so both run exactly the same code.
//!
//! Input format: a sequence of records `[flags, len_hi, len_lo, frame...]`; bit 0 of `flags`
//! picks the side (0 inside, 1 outside), bit 1 runs the timer poll after the frame, bits 2..7
//! advance the clock by that many seconds. A short or truncated record ends the input. The
//! worker uses a one-address pool with 8-port blocks so inbound frames can hit real bindings.
//! Every transmitted frame must be well-formed ARP or IPv4 with a valid header checksum.

use crate::buf::{PacketBuf, VecAlloc, VecBuf};
use crate::config::WorkerConfig;
use crate::worker::{Side, Tx, Worker};

/// The worker configuration the harness uses.
pub fn config() -> WorkerConfig {
    let mut c = WorkerConfig::lab_default();
    c.pool = vec![0xcb00_7101];
    c.block_size = 8;
    c.max_blocks_per_subscriber = 4;
    c.max_bindings = 256;
    c.max_subscribers = 64;
    c
}

/// Runs one input. Panics only if the dataplane emits a malformed frame (a bug).
pub fn run(data: &[u8]) {
    let mut w: Worker<VecBuf> = Worker::new(config());
    let mut tx = Tx::with_capacity(64);
    let mut alloc = VecAlloc {
        remaining: Some(10_000),
    };
    let mut now = 1_000_000_000u64;
    let mut rest = data;
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let len = len.min(rest.len());
        let (frame, tail) = rest.split_at(len);
        rest = tail;
        let side = if flags & 1 == 0 {
            Side::Inside
        } else {
            Side::Outside
        };
        now += u64::from(flags >> 2) * 1_000_000_000;
        w.process(side, VecBuf::from_frame(frame), now, &mut tx, &mut alloc);
        if flags & 2 != 0 {
            w.poll(now, &mut tx, &mut alloc);
        }
        for b in tx.inside.drain(..).chain(tx.outside.drain(..)) {
            check_emitted(b.data());
        }
    }
}

fn check_emitted(f: &[u8]) {
    assert!(f.len() >= 14, "emitted runt frame");
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0806 => assert!(f.len() >= 42, "short ARP"),
        0x0800 => {
            let ip = crate::wire::ipv4::Packet::new_checked(&f[14..]);
            assert!(ip.is_ok(), "emitted invalid IPv4: {:?}", ip.err());
        }
        t => panic!("emitted ethertype {t:#06x}"),
    }
}
