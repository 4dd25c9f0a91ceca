//! Settings a worker switches between bursts, without restarting or dropping state.
//!
//! The control thread publishes a [`LiveConfig`] snapshot (an immutable value behind an `Arc`,
//! ARCHITECTURE.md: "an immutable snapshot swapped in and picked up between bursts"); the poll
//! loop hands it to [`Worker::apply_live`] in its timer slot. Only values that need no table
//! reallocation are live: timeouts (existing entries follow the new value at their next expiry
//! check), per-subscriber limits, the ICMP error rate, MSS clamping and the per-session logging
//! policy, and the ALG switches, ports, per-session expectation limit and expectation timeout.
//! The set of per-port timeout overrides is fixed at start-up (each override is an expiry
//! list); their values are live. The ALG table sizes are fixed at start-up.

use crate::alg_glue::AlgConfig;
use crate::buf::PacketBuf;
use crate::config::WorkerConfig;
use crate::counters::Event;
use crate::nat::{SessionLogPolicy, Timeouts};
use crate::worker::Worker;

/// The live part of a worker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Timeouts (the per-port overrides must name the same protocol/port pairs, in order).
    pub timeouts: Timeouts,
    /// Bindings plus sessions one subscriber may hold.
    pub max_sessions_per_subscriber: u32,
    /// ICMP errors generated per second.
    pub icmp_error_rate: u32,
    /// TCP MSS clamp (0: off).
    pub tcp_mss_clamp: u16,
    /// Per-session logging.
    pub session_log: SessionLogPolicy,
    /// Lifetime of fragment state, nanoseconds (applies to datagrams seen from now on).
    pub fragment_timeout_ns: u64,
    /// ALGs (the table sizes must be unchanged).
    pub alg: AlgConfig,
}

/// Why a snapshot cannot be applied live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// Per-port timeout overrides were added, removed or reordered.
    #[error("timeouts.port entries were added, removed or reordered (their timeout values are live, the list is not): restart needed")]
    PortOverridesChanged,
    /// The ALG table sizes changed.
    #[error("alg.max_expectations_per_worker / alg.max_sessions_per_worker changed (table sizes): restart needed")]
    AlgTablesChanged,
}

impl LiveConfig {
    /// The live part of `cfg`.
    pub fn of(cfg: &WorkerConfig) -> Self {
        Self {
            timeouts: cfg.timeouts.clone(),
            max_sessions_per_subscriber: cfg.max_sessions_per_subscriber,
            icmp_error_rate: cfg.icmp_error_rate,
            tcp_mss_clamp: cfg.tcp_mss_clamp,
            session_log: cfg.session_log.clone(),
            fragment_timeout_ns: cfg.fragments.timeout_ns,
            alg: cfg.alg,
        }
    }

    /// Whether `self` can replace `current` without a restart.
    pub fn check_against(&self, current: &WorkerConfig) -> Result<(), LiveError> {
        let a = &self.timeouts.per_port;
        let b = &current.timeouts.per_port;
        if a.len() != b.len()
            || a.iter()
                .zip(b)
                .any(|(x, y)| x.proto != y.proto || x.port != y.port)
        {
            return Err(LiveError::PortOverridesChanged);
        }
        if self.alg.max_expectations != current.alg.max_expectations
            || self.alg.max_sessions != current.alg.max_sessions
        {
            return Err(LiveError::AlgTablesChanged);
        }
        Ok(())
    }
}

impl<B: PacketBuf> Worker<B> {
    /// The live part of this worker's configuration.
    pub fn live(&self) -> LiveConfig {
        LiveConfig::of(&self.cfg)
    }

    /// Switches to `l` (between bursts). Counted as `config_applied`, or `config_rejected`
    /// when `l` is not live-compatible (nothing changes then).
    pub fn apply_live(&mut self, l: &LiveConfig) -> Result<(), LiveError> {
        if let Err(e) = l.check_against(&self.cfg) {
            self.counters.inc(Event::ConfigRejected);
            return Err(e);
        }
        self.cfg.timeouts.clone_from(&l.timeouts);
        self.cfg.max_sessions_per_subscriber = l.max_sessions_per_subscriber;
        self.cfg.icmp_error_rate = l.icmp_error_rate;
        self.cfg.tcp_mss_clamp = l.tcp_mss_clamp;
        self.cfg.session_log.clone_from(&l.session_log);
        self.icmp_tokens = self.icmp_tokens.min(l.icmp_error_rate);
        self.cfg.fragments.timeout_ns = l.fragment_timeout_ns;
        self.frags.set_timeout(l.fragment_timeout_ns);
        self.frag_steer.set_timeout(l.fragment_timeout_ns);
        self.cfg.alg = l.alg;
        self.nat
            .set_live(&l.timeouts, l.max_sessions_per_subscriber, &l.session_log);
        self.counters.inc(Event::ConfigApplied);
        Ok(())
    }
}
