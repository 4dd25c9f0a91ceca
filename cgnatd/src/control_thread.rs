//! The control thread: never on a worker lcore, never in the packet path.
//!
//! It owns the event sinks (port-block registry, IPFIX, syslog, JSON lines, the log) and
//! drains every worker's bounded event queue every 10 ms. Workers push with a non-blocking
//! `push` and count what does not fit, so a slow collector or a busy control thread costs
//! events (counted), never a worker stall. On shutdown it drains once more after the workers
//! stopped, then hands back the sink statistics.

use crate::sinks::{SinkStats, Sinks};
use crossbeam_queue::ArrayQueue;
use dataplane::events::WorkerEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the queues are drained.
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// A running control thread.
#[derive(Debug)]
pub struct ControlThread {
    stop: Arc<AtomicBool>,
    join: JoinHandle<SinkStats>,
}

impl ControlThread {
    /// Starts the thread with the sinks and one queue per worker.
    pub fn spawn(
        mut sinks: Sinks,
        queues: Vec<Arc<ArrayQueue<WorkerEvent>>>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_t = Arc::clone(&stop);
        let join = std::thread::Builder::new()
            .name("cgnat-control".into())
            .spawn(move || {
                while !stop_t.load(Ordering::Acquire) {
                    drain(&queues, &mut sinks);
                    std::thread::sleep(DRAIN_INTERVAL);
                }
                drain(&queues, &mut sinks);
                sinks.stats
            })?;
        Ok(Self { stop, join })
    }

    /// Stops the thread after a last drain (call once the workers stopped) and returns the
    /// sink statistics.
    pub fn stop(self) -> SinkStats {
        self.stop.store(true, Ordering::Release);
        self.join.join().unwrap_or_default()
    }
}

/// Hands the workers' events to the sinks.
fn drain(queues: &[Arc<ArrayQueue<WorkerEvent>>], sinks: &mut Sinks) {
    for q in queues {
        // Bounded per pass so one busy worker cannot starve the flush of the others.
        for _ in 0..q.capacity() {
            match q.pop() {
                Some(ev) => sinks.handle(&ev),
                None => break,
            }
        }
    }
    sinks.flush();
}
