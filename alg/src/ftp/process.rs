//! One call per FTP control segment: scan, check, allocate, rewrite, record the sequence
//! correction, and say what to do with the segment. This is the dataplane's entry point; it
//! encodes the policies of `docs/alg.md` so the dataplane only applies the result.

use super::{FtpError, FtpMessage, FtpSegment, FtpState};
use crate::counters::AlgCounters;
use crate::edit::{EditError, EditList};
use crate::expect::Expectation;
use crate::seq::{SeqError, SeqHistory};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Consecutive times the same split line makes [`FtpOutcome::hold`] true before the segment is
/// let through unmodified (a line that straddles the sender's MSS boundary is split the same
/// way in every retransmission, so holding forever would kill the session).
pub const MAX_SPLIT_HOLDS: u8 = 3;

/// What to do with one segment. `N` bounds the rewrites (and expectations) per segment.
#[derive(Debug, Clone, Copy)]
pub struct FtpOutcome<const N: usize> {
    /// Edits to apply to the payload, in order (empty: forward unmodified). Their sequence
    /// corrections are already recorded in the direction's [`SeqHistory`].
    pub edits: EditList<N>,
    expectations: [Option<Expectation>; N],
    released: [Option<SocketAddrV4>; N],
    /// Drop the segment instead of forwarding it (split-command policy, or no room for the
    /// sequence correction): the sender will retransmit. When set, `edits` and expectations
    /// are empty.
    pub hold: bool,
}

impl<const N: usize> Default for FtpOutcome<N> {
    fn default() -> Self {
        Self {
            edits: EditList::new(),
            expectations: [None; N],
            released: [None; N],
            hold: false,
        }
    }
}

impl<const N: usize> FtpOutcome<N> {
    /// Expectations to install (each counted in `counters.expectations`).
    pub fn expectations(&self) -> impl Iterator<Item = &Expectation> + '_ {
        self.expectations.iter().flatten()
    }

    /// Public endpoints the `allocate` callback handed out that ended up unused: give them
    /// back.
    pub fn released(&self) -> impl Iterator<Item = &SocketAddrV4> + '_ {
        self.released.iter().flatten()
    }

    fn add<T>(slots: &mut [Option<T>], v: T) -> bool {
        match slots.iter_mut().find(|s| s.is_none()) {
            Some(s) => {
                *s = Some(v);
                true
            }
            None => false,
        }
    }

    /// Cancels every rewrite and expectation; newly allocated endpoints become `released`.
    fn cancel(&mut self, allocated: &[Option<SocketAddrV4>; N]) {
        self.edits.clear();
        self.expectations = [None; N];
        for p in allocated.iter().flatten() {
            Self::add(&mut self.released, *p);
        }
    }
}

/// Processes one segment of an FTP control connection.
///
/// * `peer`: the real address of the other end: for a segment from an inside host, the remote
///   it is sent to; for one from an outside host, the subscriber's inside address.
/// * `history`: the sequence corrections of the segment's direction (`seg.sender`'s).
/// * `allocate`: gives an inside host's announcement a public endpoint (the subscriber's public
///   address, a port from its block); `None` when none is available. Called only for messages
///   that passed every check and only when the rewrite can be recorded.
///
/// Counts everything in `counters`: messages, rewrites, expectations, and one failure reason
/// per refused line.
pub fn process<const N: usize>(
    state: &mut FtpState,
    seg: FtpSegment<'_>,
    peer: Ipv4Addr,
    history: &mut SeqHistory,
    counters: &mut AlgCounters<FtpError>,
    mut allocate: impl FnMut(&FtpMessage) -> Option<SocketAddrV4>,
) -> FtpOutcome<N> {
    let mut out = FtpOutcome::<N>::default();
    let mut allocated = [None; N];
    let mut history_full = false;
    let split = {
        let mut scan = state.scan(seg);
        while let Some(item) = scan.next() {
            let msg = match item {
                Ok(m) => m,
                Err(e) => {
                    counters.fail(e);
                    continue;
                }
            };
            counters.message();
            if !msg.needs_rewrite() {
                if !FtpOutcome::<N>::add(&mut out.expectations, msg.outbound_expectation(peer)) {
                    counters.fail(FtpError::TooManyRewrites);
                }
                continue;
            }
            if out.edits.len() >= N {
                counters.fail(FtpError::TooManyRewrites);
                continue;
            }
            if history.free_slots() <= out.edits.len() {
                counters.fail(FtpError::SeqHistoryFull);
                history_full = true;
                continue;
            }
            let (public, fresh) = match scan.public_for(&msg) {
                Some(p) => (p, false),
                None => match allocate(&msg) {
                    Some(p) => (p, true),
                    None => {
                        counters.fail(FtpError::NoPublicPort);
                        continue;
                    }
                },
            };
            if let Err(e) = msg.rewrite(public).and_then(|e| out.edits.push(e)) {
                counters.fail(match e {
                    EditError::ListFull => FtpError::TooManyRewrites,
                    _ => FtpError::EditFailed,
                });
                if fresh {
                    FtpOutcome::<N>::add(&mut out.released, public);
                }
                continue;
            }
            if fresh {
                FtpOutcome::<N>::add(&mut allocated, public);
            }
            scan.remember_public(&msg, public);
            FtpOutcome::<N>::add(&mut out.expectations, msg.inbound_expectation(peer, public));
        }
        scan.split_line_seq()
    };

    if history_full {
        out.cancel(&allocated);
        state.forget_released(out.released());
        out.hold = true;
        return out;
    }

    // Split-command policy: hold (drop) a segment whose last line of interest from an inside
    // host is incomplete, at most MAX_SPLIT_HOLDS times for the same line.
    if let Some(seq) = split.filter(|_| seg.sender_side == crate::Side::Inside) {
        let n = match state.held {
            Some((s, n)) if s == seq => n,
            _ => 0,
        };
        if n < MAX_SPLIT_HOLDS {
            state.held = Some((seq, n + 1));
            out.cancel(&allocated);
            state.forget_released(out.released());
            out.hold = true;
            return out;
        }
    }

    match history.record_edits(seg.seq, out.edits.iter()) {
        Ok(()) => {}
        Err(e) => {
            counters.fail(match e {
                SeqError::HistoryFull => FtpError::SeqHistoryFull,
                SeqError::OutOfOrder => FtpError::SeqOutOfOrder,
            });
            out.cancel(&allocated);
            state.forget_released(out.released());
            out.hold = e == SeqError::HistoryFull;
            return out;
        }
    }
    for e in out.edits.iter() {
        if !e.is_noop(seg.payload) {
            counters.rewrite();
        }
    }
    for _ in out.expectations() {
        counters.expectation();
    }
    out
}
