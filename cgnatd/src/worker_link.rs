//! The control plane's line to one worker, besides the event queue and the live-config inbox:
//! counter snapshots the worker publishes, and queries it answers (`dataplane::query`).
//!
//! Everything the worker touches is lock-free and bounded: a one-slot snapshot queue it
//! overwrites (`force_push`) every [`SNAPSHOT_INTERVAL_NS`], a one-slot request queue, a bounded
//! reply queue it pushes to without waiting (a full queue pauses the query, which resumes at
//! the next timer slot), and two flags. The control side ([`WorkerClient`]) serialises its
//! queries per worker with a mutex, waits for answers with short sleeps under a deadline, and
//! abandons a query (an atomic "cancelled up to" sequence number the worker checks) when the
//! API client goes away or the worker does not answer in time.

use control::api::ApiError;
use crossbeam_queue::ArrayQueue;
use dataplane::query::{Progress, Query, QueryCursor, QueryItem};
use dataplane::{Counters, PacketBuf, Worker};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a worker publishes its counters.
pub const SNAPSHOT_INTERVAL_NS: u64 = 100_000_000;
/// Table slots a worker walks per timer slot (about a millisecond) for a query.
pub const QUERY_BUDGET: u32 = 2048;
/// Answers a worker may have queued before its query pauses.
pub const REPLY_QUEUE: usize = 1024;
/// How long the control side waits for a worker that makes no progress.
pub const QUERY_STALL: Duration = Duration::from_secs(5);

/// What a worker publishes about itself.
#[derive(Debug, Clone, Default)]
pub struct WorkerSnapshot {
    /// Every counter.
    pub counters: Counters,
    /// Bindings held.
    pub bindings: u32,
    /// Sessions held.
    pub sessions: u32,
    /// ALG control sessions (FTP, H.323) tracked.
    pub alg_sessions: u32,
    /// The H.323 ones among `alg_sessions`.
    pub alg_h323_sessions: u32,
    /// Of those, RTSP control sessions.
    pub alg_rtsp_sessions: u32,
    /// Of those, PPTP control connections.
    pub alg_pptp_sessions: u32,
    /// SIP masters (UDP peers and TCP connections), part of `alg_sessions`.
    pub alg_sip_sessions: u32,
    /// `[tcp, udp, icmp]` × `[bindings, sessions]`.
    pub by_proto: [[u32; 2]; 3],
    /// Share of loop time spent on iterations that had frames, over the last interval.
    pub busy_ratio: f64,
    /// Events dropped on the worker's own queue (full) and suppressed (rate limit).
    pub events_lost: (u64, u64),
    /// Events dropped because the queue to the control thread was full.
    pub events_ring_full: u64,
}

/// Shared between one worker and the control plane.
#[derive(Debug)]
pub struct WorkerLink {
    snapshot: ArrayQueue<WorkerSnapshot>,
    requests: ArrayQueue<(u64, Query)>,
    replies: ArrayQueue<(u64, QueryItem)>,
    /// Queries with a sequence number up to this one are abandoned.
    cancel: AtomicU64,
    /// The worker has entered its poll loop.
    pub polling: AtomicBool,
    /// The worker's poll loop has ended.
    pub stopped: AtomicBool,
}

impl Default for WorkerLink {
    fn default() -> Self {
        Self {
            snapshot: ArrayQueue::new(1),
            requests: ArrayQueue::new(1),
            replies: ArrayQueue::new(REPLY_QUEUE),
            cancel: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }
}

/// The worker's side: the query in progress and the snapshot timer. Lives in the poll loop.
#[derive(Debug)]
pub struct WorkerEnd {
    link: Arc<WorkerLink>,
    current: Option<(u64, QueryCursor)>,
    last_snapshot_ns: u64,
    last_busy_cycles: u64,
    last_cycles: u64,
}

impl WorkerEnd {
    /// The worker's end of `link`.
    pub fn new(link: Arc<WorkerLink>) -> Self {
        link.polling.store(true, Ordering::Release);
        Self {
            link,
            current: None,
            last_snapshot_ns: 0,
            last_busy_cycles: 0,
            last_cycles: dpdk::tsc_cycles(),
        }
    }

    /// Timer-slot work: one bounded query step, and a snapshot when due. `busy_cycles` is the
    /// loop's running total of busy TSC cycles, `events_ring_full` its count of events the
    /// control thread's queue refused.
    pub fn tick<B: PacketBuf>(
        &mut self,
        w: &mut Worker<B>,
        now_ns: u64,
        busy_cycles: u64,
        events_ring_full: u64,
    ) {
        if self.current.is_none() {
            if let Some((seq, q)) = self.link.requests.pop() {
                self.current = Some((seq, QueryCursor::new(q)));
            }
        }
        if let Some((seq, cur)) = &mut self.current {
            let seq = *seq;
            let done = if self.link.cancel.load(Ordering::Acquire) >= seq {
                true
            } else {
                let replies = &self.link.replies;
                w.query_step(cur, now_ns, QUERY_BUDGET, |it| {
                    replies.push((seq, it)).is_ok()
                }) == Progress::Done
            };
            if done {
                self.current = None;
            }
        }
        if now_ns.saturating_sub(self.last_snapshot_ns) >= SNAPSHOT_INTERVAL_NS {
            self.last_snapshot_ns = now_ns;
            let cycles = dpdk::tsc_cycles();
            let total = cycles.wrapping_sub(self.last_cycles);
            let busy = busy_cycles.wrapping_sub(self.last_busy_cycles);
            self.last_cycles = cycles;
            self.last_busy_cycles = busy_cycles;
            let nat = w.nat();
            let snap = WorkerSnapshot {
                counters: w.counters().clone(),
                bindings: w.bindings(),
                sessions: w.sessions(),
                alg_sessions: w.alg_sessions(),
                alg_h323_sessions: w.alg_h323_sessions(),
                alg_rtsp_sessions: w.alg_rtsp_sessions(),
                alg_pptp_sessions: w.alg_pptp_sessions(),
                alg_sip_sessions: w.alg_sip_sessions(),
                by_proto: nat.counts_by_protocol(),
                busy_ratio: ratio(busy, total),
                events_lost: w.events_lost(),
                events_ring_full,
            };
            // Overwrites the previous one if the control plane did not read it.
            let _ = self.link.snapshot.force_push(snap);
        }
    }

    /// Marks the worker stopped (its loop ended).
    pub fn stop(&self) {
        self.link.stopped.store(true, Ordering::Release);
    }
}

#[allow(clippy::cast_precision_loss)] // a ratio
fn ratio(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 / total as f64).clamp(0.0, 1.0)
    }
}

/// The control plane's side of one worker's link.
#[derive(Debug)]
pub struct WorkerClient {
    link: Arc<WorkerLink>,
    /// Serialises queries; holds the last sequence number used.
    seq: Mutex<u64>,
    last: Mutex<Option<WorkerSnapshot>>,
}

impl WorkerClient {
    /// The client of `link`.
    pub fn new(link: Arc<WorkerLink>) -> Self {
        Self {
            link,
            seq: Mutex::new(0),
            last: Mutex::new(None),
        }
    }

    /// Whether the worker is in its poll loop.
    pub fn polling(&self) -> bool {
        self.link.polling.load(Ordering::Acquire) && !self.link.stopped.load(Ordering::Acquire)
    }

    /// The newest snapshot (`None` before the first one).
    pub fn snapshot(&self) -> Option<WorkerSnapshot> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = self.link.snapshot.pop() {
            *last = Some(s);
        }
        last.clone()
    }

    /// Runs `q` on the worker, handing each answer to `on_item` (which returns `false` to
    /// abandon the query) until [`QueryItem::Done`]. UNAVAILABLE when the worker is stopped,
    /// busy with another query for longer than [`QUERY_STALL`], or makes no progress for that
    /// long.
    pub fn run(
        &self,
        worker: usize,
        q: Query,
        mut on_item: impl FnMut(QueryItem) -> bool,
    ) -> Result<(), ApiError> {
        let unavailable = |why: &str| ApiError::Unavailable(format!("worker {worker} {why}"));
        let start = Instant::now();
        let mut guard = loop {
            match self.seq.try_lock() {
                Ok(g) => break g,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    if start.elapsed() > QUERY_STALL {
                        return Err(unavailable("is busy with another query; try again"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        };
        if !self.polling() {
            return Err(unavailable("is not running"));
        }
        *guard += 1;
        let seq = *guard;
        // Whatever an abandoned query left behind.
        self.link.cancel.store(seq - 1, Ordering::Release);
        while self.link.requests.pop().is_some() {}
        while self.link.replies.pop().is_some() {}
        if self.link.requests.push((seq, q)).is_err() {
            return Err(unavailable("did not take the query"));
        }
        let mut progress = Instant::now();
        loop {
            match self.link.replies.pop() {
                Some((s, _)) if s != seq => {}
                Some((_, QueryItem::Done)) => return Ok(()),
                Some((_, item)) => {
                    if !on_item(item) {
                        self.link.cancel.store(seq, Ordering::Release);
                        return Ok(());
                    }
                    progress = Instant::now();
                }
                None => {
                    if self.link.stopped.load(Ordering::Acquire) {
                        return Err(unavailable("stopped"));
                    }
                    if progress.elapsed() > QUERY_STALL {
                        self.link.cancel.store(seq, Ordering::Release);
                        return Err(unavailable("did not answer in time"));
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
}
