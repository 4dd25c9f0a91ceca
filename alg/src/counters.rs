//! Per-ALG counters the dataplane embeds in its per-worker state: plain `u64`s, no atomics.
//!
//! The parsers are pure and count nothing themselves; the dataplane calls
//! [`AlgCounters::message`], [`AlgCounters::rewrite`], [`AlgCounters::expectation`] and
//! [`AlgCounters::fail`] as it acts on their results. Each failure reason is exactly one
//! counter, named after the reason (`alg_ftp_address_mismatch`, `alg_tftp_unknown_mode`, ...).

use core::marker::PhantomData;

pub use crate::names::Reason;

/// Upper bound on the number of failure reasons of one ALG (checked at compile time).
pub const MAX_REASONS: usize = 32;

/// Counters of one ALG whose failure reasons are `E` (e.g. [`crate::ftp::FtpError`]).
pub struct AlgCounters<E: Reason> {
    /// Messages of interest parsed successfully (PORT, 227, RRQ, ...).
    pub messages: u64,
    /// Messages whose payload was rewritten.
    pub rewrites: u64,
    /// Expectations created from messages.
    pub expectations: u64,
    failures: [u64; MAX_REASONS],
    _reason: PhantomData<E>,
}

impl<E: Reason> Clone for AlgCounters<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E: Reason> Copy for AlgCounters<E> {}

impl<E: Reason> PartialEq for AlgCounters<E> {
    fn eq(&self, other: &Self) -> bool {
        self.messages == other.messages
            && self.rewrites == other.rewrites
            && self.expectations == other.expectations
            && self.failures == other.failures
    }
}
impl<E: Reason> Eq for AlgCounters<E> {}

impl<E: Reason> Default for AlgCounters<E> {
    fn default() -> Self {
        Self {
            messages: 0,
            rewrites: 0,
            expectations: 0,
            failures: [0; MAX_REASONS],
            _reason: PhantomData,
        }
    }
}

impl<E: Reason> core::fmt::Debug for AlgCounters<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut m = f.debug_map();
        for (name, v) in self.iter().filter(|(_, v)| *v != 0) {
            m.entry(&name, &v);
        }
        m.finish()
    }
}

impl<E: Reason> AlgCounters<E> {
    /// Counts one message parsed.
    #[inline]
    pub fn message(&mut self) {
        self.messages += 1;
    }
    /// Counts one rewrite applied.
    #[inline]
    pub fn rewrite(&mut self) {
        self.rewrites += 1;
    }
    /// Counts one expectation created.
    #[inline]
    pub fn expectation(&mut self) {
        self.expectations += 1;
    }
    /// Counts one failure.
    #[inline]
    pub fn fail(&mut self, reason: E) {
        self.failures[reason.index()] += 1;
    }
    /// Value of one failure counter.
    pub fn failed(&self, reason: E) -> u64 {
        self.failures[reason.index()]
    }
    /// Sum of all failure counters.
    pub fn total_failures(&self) -> u64 {
        self.failures.iter().sum()
    }
    /// Every counter as (exported name, value): messages, rewrites, expectations, then the
    /// failure reasons in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            (E::MESSAGES, self.messages),
            (E::REWRITES, self.rewrites),
            (E::EXPECTATIONS, self.expectations),
        ]
        .into_iter()
        .chain(E::ALL.iter().map(|r| (r.counter_name(), self.failed(*r))))
    }
    /// Adds another worker's counters into this one.
    pub fn merge(&mut self, other: &Self) {
        self.messages += other.messages;
        self.rewrites += other.rewrites;
        self.expectations += other.expectations;
        for (a, b) in self.failures.iter_mut().zip(other.failures.iter()) {
            *a += b;
        }
    }
}
