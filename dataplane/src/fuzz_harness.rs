//! Drives a worker with arbitrary bytes: the body of the `packet_path` cargo-fuzz target and of
//! the corpus-replay test, kept here so both run exactly the same code.
//!
//! Input format: a sequence of records `[flags, len_hi, len_lo, frame...]`; bit 0 of `flags`
//! picks the side (0 inside, 1 outside), bit 1 runs the timer poll after the frame, bits 2..7
//! advance the clock by that many seconds. A short or truncated record ends the input. The
//! worker uses a one-address pool with 8-port blocks so inbound frames can hit real bindings.
//! Every transmitted frame must be well-formed ARP or IPv4 with a valid header checksum.
//!
//! Each input runs twice: on one worker, and on two workers wired like the daemon's handoff
//! rings (the frame arrives on worker `len % 2`; handed-off frames are delivered until no
//! outbox holds any), so steering, fragment homing, ARP copies and cross-worker hairpinning
//! see hostile input too.

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
    // Small tables: a fresh worker per input must be cheap for the fuzzer to run many.
    c.max_sessions = 1024;
    c.alg.max_sessions = 64;
    c.alg.max_expectations = 128;
    // Every ALG on, so hostile input reaches all of the glue (all but FTP are off by default;
    // PPTP also makes GRE reach the packet path).
    c.alg.rtsp = crate::alg_glue::AlgPorts::new(true, &[alg::rtsp::RTSP_PORT]);
    c.alg.tftp = crate::alg_glue::AlgPorts::new(true, &[69]);
    c.alg.h323 = crate::alg_glue::AlgPorts::new(true, &[alg::h323::Q931_PORT]);
    c.alg.h323_ras = crate::alg_glue::AlgPorts::new(true, &[alg::h323::RAS_PORT]);
    c.alg.pptp = crate::alg_glue::AlgPorts::new(true, &[alg::pptp::PPTP_PORT]);
    c.alg.sip = crate::alg_glue::AlgPorts::new(true, &[alg::sip::SIP_PORT]);
    c
}

/// Runs one input (single worker, then two workers). Panics only if the dataplane emits a
/// malformed frame or hands a frame to itself (bugs).
pub fn run(data: &[u8]) {
    run_single(data);
    run_pair(data);
}

fn records(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 3 {
            return None;
        }
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let len = len.min(rest.len());
        let (frame, tail) = rest.split_at(len);
        rest = tail;
        Some((flags, frame))
    })
}

fn run_pair(data: &[u8]) {
    let mut ws: [Worker<VecBuf>; 2] = [0u16, 1].map(|i| {
        let mut c = config();
        c.worker_id = i;
        c.n_workers = 2;
        c.steering.outbox = 16;
        Worker::new(c)
    });
    let mut tx = [Tx::with_capacity(64), Tx::with_capacity(64)];
    let mut alloc = VecAlloc {
        remaining: Some(10_000),
    };
    let mut now = 1_000_000_000u64;
    for (flags, frame) in records(data) {
        let side = if flags & 1 == 0 {
            Side::Inside
        } else {
            Side::Outside
        };
        now += u64::from(flags >> 2) * 1_000_000_000;
        let at = frame.len() % 2;
        ws[at].process(
            side,
            VecBuf::from_frame(frame),
            now,
            &mut tx[at],
            &mut alloc,
        );
        if flags & 2 != 0 {
            for (w, t) in ws.iter_mut().zip(tx.iter_mut()) {
                w.poll(now, t, &mut alloc);
            }
        }
        // Deliver handoffs (bounded rounds: fragments may bounce home -> owner once).
        for _ in 0..4 {
            let mut moved = false;
            for from in 0..2usize {
                let to = 1 - from;
                let mut q: Vec<VecBuf> = Vec::new();
                if let Some(out) = ws[from].outbox().queue(u16::try_from(to).unwrap_or(0)) {
                    q.append(out);
                }
                if let Some(own) = ws[from].outbox().queue(u16::try_from(from).unwrap_or(0)) {
                    assert!(own.is_empty(), "a worker handed a frame to itself");
                }
                for b in q {
                    moved = true;
                    ws[to].process_handoff(b, now, &mut tx[to], &mut alloc);
                }
            }
            if !moved {
                break;
            }
        }
        for t in tx.iter_mut() {
            for b in t.inside.drain(..).chain(t.outside.drain(..)) {
                check_emitted(b.data());
            }
        }
    }
}

fn run_single(data: &[u8]) {
    let mut w: Worker<VecBuf> = Worker::new(config());
    let mut tx = Tx::with_capacity(64);
    let mut alloc = VecAlloc {
        remaining: Some(10_000),
    };
    let mut now = 1_000_000_000u64;
    for (flags, frame) in records(data) {
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
