//! The run-to-completion poll loop of one worker lcore.
//!
//! Per iteration: RX a burst on the inside queue and on the outside queue, hand every frame to
//! the [`Worker`], run its timers about once a millisecond, TX what it produced. Frames the NIC
//! does not accept are freed and counted (`drop_tx_full`); nothing blocks. The loop ends when
//! the shared stop flag is set and returns the worker's final counters.

use crate::pkt::{Pkt, PoolAlloc};
use dataplane::{Counters, DropReason, Side, Tx, Worker};
use dpdk::{Mbuf, RxQueue, TxQueue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The queues and pool one worker polls.
#[derive(Debug)]
pub struct WorkerIo {
    /// Inside port RX queue.
    pub in_rx: RxQueue,
    /// Inside port TX queue.
    pub in_tx: TxQueue,
    /// Outside port RX queue.
    pub out_rx: RxQueue,
    /// Outside port TX queue.
    pub out_tx: TxQueue,
    /// Mbufs for generated frames (ARP requests, ICMP errors).
    pub alloc: PoolAlloc,
}

/// Nanoseconds from the TSC.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    hz: u128,
    start: u64,
}

impl TscClock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            hz: u128::from(dpdk::tsc_hz().max(1)),
            start: dpdk::tsc_cycles(),
        }
    }
    /// Nanoseconds since start, plus one second so that 0 never means "now".
    #[inline]
    pub fn now_ns(&self) -> u64 {
        let c = u128::from(dpdk::tsc_cycles().wrapping_sub(self.start));
        u64::try_from(c * 1_000_000_000 / self.hz)
            .unwrap_or(u64::MAX)
            .saturating_add(1_000_000_000)
    }
}

const TIMER_INTERVAL_NS: u64 = 1_000_000;

fn flush(q: &mut Vec<Pkt>, scratch: &mut Vec<Mbuf>, txq: &mut TxQueue, counters: &mut Counters) {
    if q.is_empty() {
        return;
    }
    scratch.extend(q.drain(..).map(|p| p.0));
    txq.tx_burst(scratch);
    let unsent = scratch.len();
    if unsent > 0 {
        counters.drop_n(
            DropReason::TxFull,
            u64::try_from(unsent).unwrap_or(u64::MAX),
        );
        scratch.clear();
    }
}

/// Runs the loop until `stop` is set; returns the final counters.
pub fn run(mut w: Worker<Pkt>, mut io: WorkerIo, burst: usize, stop: Arc<AtomicBool>) -> Counters {
    let clock = TscClock::new();
    let burst = burst.clamp(1, 64);
    let mut rx: Vec<Mbuf> = Vec::with_capacity(64);
    let mut frames: Vec<Pkt> = Vec::with_capacity(64);
    let mut scratch: Vec<Mbuf> = Vec::with_capacity(1024);
    let mut tx: Tx<Pkt> = Tx::with_capacity(1024);
    let mut last_timer = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = clock.now_ns();
        for (side, q) in [
            (Side::Inside, &mut io.in_rx),
            (Side::Outside, &mut io.out_rx),
        ] {
            if q.rx_burst(&mut rx, burst) > 0 {
                frames.extend(rx.drain(..).map(Pkt));
                w.process_burst(side, &mut frames, now, &mut tx, &mut io.alloc);
            }
        }
        if now.saturating_sub(last_timer) >= TIMER_INTERVAL_NS {
            last_timer = now;
            w.poll(now, &mut tx, &mut io.alloc);
        }
        let c = w.counters_mut();
        flush(&mut tx.inside, &mut scratch, &mut io.in_tx, c);
        flush(&mut tx.outside, &mut scratch, &mut io.out_tx, c);
    }
    w.counters().clone()
}
