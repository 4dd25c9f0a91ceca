//! The run-to-completion poll loop of one worker lcore.
//!
//! Per iteration: RX a burst on the inside queue and on the outside queue, hand every frame to
//! the [`Worker`], run its timers about once a millisecond, TX what it produced. Frames the NIC
//! does not accept are freed and counted (`drop_tx_full`); nothing blocks. With several
//! workers, frames another worker owns go into the worker's outbox (`dataplane::steer`) and
//! from there, after every burst, into the single-producer ring to that worker; a full ring is
//! a counted drop (`drop_handoff_ring_full`). Frames from the other workers' rings are
//! processed like received ones. The loop ends when the shared stop flag is set and returns
//! the worker's final counters.

use crate::pkt::{Pkt, PoolAlloc};
use crossbeam_queue::ArrayQueue;
use dataplane::events::WorkerEvent;
use dataplane::{Counters, DropReason, Side, Tx, Worker};
use dpdk::{Mbuf, RingConsumer, RingProducer, RxQueue, TxQueue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where a worker receives bursts: an ethdev RX queue, or (benchmark mode) a ring.
pub trait BurstRx: Send {
    /// Appends up to `max` frames to `out`; returns how many.
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize;
}

/// Where a worker sends bursts: an ethdev TX queue, or (benchmark mode) a ring.
pub trait BurstTx: Send {
    /// Sends frames from the front of `bufs`; unsent ones stay. Returns how many were sent.
    fn tx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize;
}

impl BurstRx for RxQueue {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        RxQueue::rx_burst(self, out, max)
    }
}

impl BurstTx for TxQueue {
    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        TxQueue::tx_burst(self, bufs)
    }
}

impl BurstRx for RingConsumer {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        self.dequeue_burst(out, max)
    }
}

impl BurstTx for RingProducer {
    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        self.enqueue_burst(bufs)
    }
}

/// The queues and pool one worker polls.
#[derive(Debug)]
pub struct WorkerIo<R, T> {
    /// Inside port RX queue.
    pub in_rx: R,
    /// Inside port TX queue.
    pub in_tx: T,
    /// Outside port RX queue.
    pub out_rx: R,
    /// Outside port TX queue.
    pub out_tx: T,
    /// Mbufs for generated frames (ARP requests, ICMP errors).
    pub alloc: PoolAlloc,
    /// Where the worker's control-plane events go (bounded; full = counted drop). `None`
    /// discards them (benchmark mode).
    pub events: Option<Arc<ArrayQueue<WorkerEvent>>>,
    /// Live configuration snapshots from the control plane (`None`: none, benchmark mode).
    pub live: Option<crate::reload::LiveInbox>,
    /// Handoff rings to the other workers, indexed by worker id (`None` for itself).
    pub handoff_tx: Vec<Option<RingProducer>>,
    /// Handoff rings from the other workers.
    pub handoff_rx: Vec<RingConsumer>,
    /// Counter snapshots and queries for the management API (`None`: benchmark mode).
    pub link: Option<Arc<crate::worker_link::WorkerLink>>,
}

/// What the loop reports when it stops.
#[derive(Debug, Clone)]
#[allow(dead_code)] // polls/idle_polls are for diagnostics (Debug output)
pub struct LoopReport {
    /// The worker's counters.
    pub counters: Counters,
    /// Loop iterations.
    pub polls: u64,
    /// Iterations in which neither port had a frame.
    pub idle_polls: u64,
    /// Nanoseconds spent in iterations that had frames (the worker's busy time).
    pub busy_ns: u64,
    /// Nanoseconds the loop ran.
    pub total_ns: u64,
    /// Bindings at the end.
    pub bindings: u32,
    /// Bytes of preallocated NAT state.
    pub state_bytes: usize,
    /// Events the worker queue dropped (full) and suppressed (rate limit).
    pub events_lost: (u64, u64),
    /// Events dropped because the control thread's queue was full.
    pub events_ring_full: u64,
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
    /// Converts a TSC cycle count to nanoseconds.
    pub fn cycles_to_ns(&self, cycles: u64) -> u64 {
        u64::try_from(u128::from(cycles) * 1_000_000_000 / self.hz).unwrap_or(u64::MAX)
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

fn flush(
    q: &mut Vec<Pkt>,
    scratch: &mut Vec<Mbuf>,
    txq: &mut impl BurstTx,
    counters: &mut Counters,
) {
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

/// Moves the worker's outbox into the handoff rings; what does not fit is freed and counted.
fn flush_handoff(w: &mut Worker<Pkt>, rings: &mut [Option<RingProducer>], scratch: &mut Vec<Mbuf>) {
    for (to, ring) in rings.iter_mut().enumerate() {
        let Some(ring) = ring else { continue };
        let Some(q) = u16::try_from(to).ok().and_then(|t| w.outbox().queue(t)) else {
            continue;
        };
        if q.is_empty() {
            continue;
        }
        scratch.extend(q.drain(..).map(|p| p.0));
        ring.enqueue_burst(scratch);
        let unsent = scratch.len();
        if unsent > 0 {
            w.counters_mut().drop_n(
                DropReason::HandoffRingFull,
                u64::try_from(unsent).unwrap_or(u64::MAX),
            );
            scratch.clear();
        }
    }
}

/// Runs the loop until `stop` is set; returns the final counters and loop statistics.
pub fn run<R: BurstRx, T: BurstTx>(
    mut w: Worker<Pkt>,
    mut io: WorkerIo<R, T>,
    burst: usize,
    stop: Arc<AtomicBool>,
) -> LoopReport {
    let clock = TscClock::new();
    let burst = burst.clamp(1, 64);
    let mut rx: Vec<Mbuf> = Vec::with_capacity(64);
    let mut frames: Vec<Pkt> = Vec::with_capacity(64);
    let mut scratch: Vec<Mbuf> = Vec::with_capacity(1024);
    let mut tx: Tx<Pkt> = Tx::with_capacity(1024);
    let mut last_timer = 0u64;
    let (mut polls, mut idle_polls, mut busy_cycles) = (0u64, 0u64, 0u64);
    let mut events_ring_full = 0u64;
    let started = clock.now_ns();
    let mut link = io.link.take().map(crate::worker_link::WorkerEnd::new);
    while !stop.load(Ordering::Relaxed) {
        let iter_start = dpdk::tsc_cycles();
        let now = clock.now_ns();
        polls += 1;
        let mut got = 0;
        for (side, q) in [
            (Side::Inside, &mut io.in_rx),
            (Side::Outside, &mut io.out_rx),
        ] {
            let n = q.rx_burst(&mut rx, burst);
            if n > 0 {
                got += n;
                frames.extend(rx.drain(..).map(Pkt));
                w.process_burst(side, &mut frames, now, &mut tx, &mut io.alloc);
                flush_handoff(&mut w, &mut io.handoff_tx, &mut scratch);
            }
        }
        for ring in io.handoff_rx.iter_mut() {
            let n = ring.dequeue_burst(&mut rx, burst);
            if n > 0 {
                got += n;
                for m in rx.drain(..) {
                    w.process_handoff(Pkt(m), now, &mut tx, &mut io.alloc);
                }
                flush_handoff(&mut w, &mut io.handoff_tx, &mut scratch);
            }
        }
        if got == 0 {
            idle_polls += 1;
        }
        let busy = got > 0;
        if now.saturating_sub(last_timer) >= TIMER_INTERVAL_NS {
            last_timer = now;
            w.poll(now, &mut tx, &mut io.alloc);
            flush_handoff(&mut w, &mut io.handoff_tx, &mut scratch);
            if let Some(snap) = io.live.as_ref().and_then(|q| q.pop()) {
                // Validated by the control plane; a refusal is counted (config_rejected).
                let _ = w.apply_live(&snap);
            }
            if let Some(l) = &mut link {
                l.tick(&mut w, now, busy_cycles, events_ring_full);
                flush_handoff(&mut w, &mut io.handoff_tx, &mut scratch);
            }
        }
        let c = w.counters_mut();
        flush(&mut tx.inside, &mut scratch, &mut io.in_tx, c);
        flush(&mut tx.outside, &mut scratch, &mut io.out_tx, c);
        if busy {
            busy_cycles += dpdk::tsc_cycles().wrapping_sub(iter_start);
        }
        w.drain_events(|ev| {
            if let Some(q) = &io.events {
                if q.push(ev).is_err() {
                    events_ring_full += 1;
                }
            }
        });
    }
    // Shutdown: what is still queued, then a release for every block still held, so the logs
    // close every allocation. No packets flow any more, so waiting (bounded) for room in the
    // control thread's queue is allowed here.
    let mut pending: Vec<WorkerEvent> = Vec::new();
    w.drain_events(|ev| pending.push(ev));
    w.shutdown_events(clock.now_ns(), |ev| pending.push(ev));
    if let Some(q) = &io.events {
        let deadline = clock.now_ns().saturating_add(2_000_000_000);
        for ev in pending {
            let mut ev = ev;
            loop {
                match q.push(ev) {
                    Ok(()) => break,
                    Err(back) if clock.now_ns() < deadline => {
                        ev = back;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(_) => {
                        events_ring_full += 1;
                        break;
                    }
                }
            }
        }
    }
    if let Some(l) = &link {
        l.stop();
    }
    LoopReport {
        counters: w.counters().clone(),
        polls,
        idle_polls,
        busy_ns: clock.cycles_to_ns(busy_cycles),
        total_ns: clock.now_ns().saturating_sub(started),
        bindings: w.bindings(),
        state_bytes: w.nat().memory(),
        events_lost: w.events_lost(),
        events_ring_full,
    }
}

#[cfg(test)]
mod tests {
    //! A handoff ring driven past its limit, deterministically, with real mbufs and a real
    //! `rte_ring` (EAL without hugepages; the only EAL test in this binary: EAL initialises
    //! once per process). The worker steers frames of another worker's subscribers into its
    //! outbox; [`flush_handoff`] moves them into the ring, whose consumer is not read: what
    //! does not fit is freed and counted (`drop_handoff_ring_full`), nothing else is lost,
    //! and once the consumer drains the ring, frames go through again.
    use super::*;
    use dataplane::steer::subscriber_owner;
    use dataplane::{Event, WorkerConfig};
    use dpdk::{Eal, Mempool, Ring};

    const RING: u32 = 64;

    /// A UDP frame from subscriber `src` to 198.51.100.2:53 as the inside port receives it.
    fn frame(pool: &Mempool, cfg: &WorkerConfig, src: u32) -> Pkt {
        let b = etherparse::PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 0x10], cfg.inside.mac)
            .ipv4(src.to_be_bytes(), [198, 51, 100, 2], 64)
            .udp(40000, 53);
        let mut bytes = Vec::with_capacity(b.size(8));
        b.write(&mut bytes, b"question").unwrap();
        let mut m = pool.alloc().unwrap();
        m.append(bytes.len()).unwrap().copy_from_slice(&bytes);
        Pkt(m)
    }

    #[test]
    fn a_full_handoff_ring_is_a_counted_drop_and_takes_frames_again_once_drained() {
        let prefix = format!("cgnatd-handoff-test-{}", std::process::id());
        let args: Vec<String> = [
            "cgnatd-test",
            "--no-huge",
            "-m",
            "256",
            "--no-pci",
            "--no-telemetry",
            "--no-shconf",
            "--file-prefix",
            &prefix,
            "--log-level",
            "lib.eal:notice",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let _eal = Eal::init(&args).unwrap();
        let pool = Mempool::new("ho_test", 2047, 0, Mempool::DEFAULT_DATA_ROOM, -1).unwrap();
        let (producer, mut consumer) = Ring::new("ho_test_0_1", RING, -1).unwrap();
        let mut rings = vec![None, Some(producer)];

        let mut cfg = WorkerConfig::lab_default();
        cfg.n_workers = 2;
        cfg.worker_id = 0;
        let mut w: Worker<Pkt> = Worker::new(cfg.clone());
        let mut alloc = PoolAlloc(pool.clone());
        let mut tx: Tx<Pkt> = Tx::with_capacity(1024);
        let mut scratch = Vec::with_capacity(1024);
        // Subscribers owned by worker 1 (software steering on the source address).
        let theirs: Vec<u32> = (0x6440_0002..0x6440_4000)
            .filter(|&a| subscriber_owner(a, 2) == 1)
            .take(200)
            .collect();
        assert_eq!(theirs.len(), 200);

        // One burst's worth (200 frames ≤ outbox 256) for worker 1: 64 fit in the ring.
        let in_use = pool.in_use();
        for &a in &theirs {
            w.process(Side::Inside, frame(&pool, &cfg, a), 1, &mut tx, &mut alloc);
        }
        assert_eq!(w.counters().event(Event::HandoffInside), 200);
        assert_eq!(w.outbox().queue(1).map(|q| q.len()), Some(200));
        flush_handoff(&mut w, &mut rings, &mut scratch);
        assert_eq!(consumer.len(), RING as usize);
        assert_eq!(
            w.counters().dropped(DropReason::HandoffRingFull),
            200 - u64::from(RING)
        );
        assert!(w.outbox().queue(1).is_some_and(|q| q.is_empty()));
        assert!(scratch.is_empty());
        // The dropped frames went back to the pool; the ring holds the others.
        assert_eq!(pool.in_use(), in_use + RING as usize);

        // Still full: a second burst is dropped whole.
        for &a in &theirs[..50] {
            w.process(Side::Inside, frame(&pool, &cfg, a), 2, &mut tx, &mut alloc);
        }
        flush_handoff(&mut w, &mut rings, &mut scratch);
        assert_eq!(
            w.counters().dropped(DropReason::HandoffRingFull),
            200 - u64::from(RING) + 50
        );
        assert_eq!(pool.in_use(), in_use + RING as usize);

        // Worker 1 catches up (drains the ring in bursts): the next burst goes through.
        let mut got = Vec::with_capacity(RING as usize);
        while consumer.dequeue_burst(&mut got, 32) > 0 {}
        assert_eq!(got.len(), RING as usize);
        assert!(
            got.iter().all(|m| m.user_tag() != 0),
            "every frame carries its handoff tag"
        );
        dpdk::free_bulk(&mut got);
        for &a in &theirs[..50] {
            w.process(Side::Inside, frame(&pool, &cfg, a), 3, &mut tx, &mut alloc);
        }
        flush_handoff(&mut w, &mut rings, &mut scratch);
        assert_eq!(consumer.len(), 50);
        assert_eq!(
            w.counters().dropped(DropReason::HandoffRingFull),
            200 - u64::from(RING) + 50,
            "no new drop once the ring has room"
        );
        assert_eq!(w.counters().total_drops(), 200 - u64::from(RING) + 50);
        let mut rest = Vec::new();
        consumer.dequeue_burst(&mut rest, 64);
        dpdk::free_bulk(&mut rest);
        assert_eq!(pool.in_use(), in_use);
    }
}
