//! Fuzz harness of the PPTP ALG, shared by `fuzz/fuzz_targets/pptp.rs` and the corpus replay
//! test. It panics when an invariant breaks.
//!
//! Input: a sequence of segments, each `[flags][length: u16 big-endian][payload]`; flags bit 0
//! is the sender (0 PNS, 1 PAC). Both ends are synchronised at sequence numbers near the 2^32
//! wrap. A held segment is "retransmitted" coalesced with that sender's next segment, as a
//! TCP sender does. Last, the control connection is closed.
//!
//! Invariants: edits are 2-byte in-place rewrites inside the payload; a held segment has no
//! edits and only releases; every public Call ID handed out is given back exactly once
//! (Release or Remove, during the run or at close) and only after it was handed out; a GRE
//! Create names a Call ID handed out and not given back, at most once.

use crate::counters::AlgCounters;
use crate::pptp::control::PptpSegment;
use crate::pptp::{self, PptpControl, PptpError, PptpEvent, PptpSender};
use std::collections::BTreeSet;

/// Largest payload the harness builds (held bytes coalesced with new ones).
const MAX_PAYLOAD: usize = 1 << 14;

/// Accounting of the public Call IDs of one run.
#[derive(Default)]
struct Ids {
    live: BTreeSet<u16>,
    created: BTreeSet<u16>,
    next: u16,
}

impl Ids {
    fn give_back(&mut self, id: u16) {
        assert!(
            self.live.remove(&id),
            "public Call ID {id} given back twice"
        );
        self.created.remove(&id);
    }
    fn event(&mut self, e: &PptpEvent) {
        match e {
            PptpEvent::Create(c) => {
                assert!(
                    self.live.contains(&c.public_call_id),
                    "{e:?} not handed out"
                );
                assert!(self.created.insert(c.public_call_id), "{e:?} twice");
            }
            PptpEvent::Remove(c) => {
                assert!(
                    self.created.contains(&c.public_call_id),
                    "{e:?} never created"
                );
                self.give_back(c.public_call_id);
            }
            PptpEvent::Release { public_call_id, .. } => {
                assert!(!self.created.contains(public_call_id), "{e:?} has GRE");
                self.give_back(*public_call_id);
            }
        }
    }
}

/// Runs one input; returns the counters.
pub fn pptp(data: &[u8]) -> AlgCounters<PptpError> {
    let mut k = AlgCounters::default();
    let mut st = PptpControl::new();
    let mut seq = [u32::MAX - 60, u32::MAX - 200];
    st.synchronize(PptpSender::Pns, seq[0]);
    st.synchronize(PptpSender::Pac, seq[1]);
    let mut unsent: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut ids = Ids {
        next: 0x4000,
        ..Ids::default()
    };
    let mut rest = data;
    while let [flags, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let d = usize::from(flags & 1);
        let sender = if d == 0 {
            PptpSender::Pns
        } else {
            PptpSender::Pac
        };
        let mut payload = core::mem::take(&mut unsent[d]);
        payload.extend_from_slice(chunk);
        payload.truncate(MAX_PAYLOAD);
        let o = pptp::process(
            &mut st,
            PptpSegment {
                sender,
                seq: seq[d],
                payload: &payload,
            },
            &mut k,
            |_inside| {
                let mut id = ids.next;
                while ids.live.contains(&id) {
                    id = id.wrapping_add(1);
                }
                ids.next = id.wrapping_add(1);
                ids.live.insert(id);
                Some(id)
            },
        );
        for e in o.edits.iter() {
            assert_eq!((e.len(), e.text().len()), (2, 2));
            assert!(e.end() <= payload.len());
        }
        if o.hold {
            assert!(o.edits.is_empty());
            assert!(o.events().all(|e| matches!(e, PptpEvent::Release { .. })));
        }
        for e in o.events() {
            ids.event(e);
        }
        if o.hold {
            unsent[d] = payload;
        } else {
            seq[d] = seq[d].wrapping_add(u32::try_from(payload.len()).unwrap_or(0));
        }
    }
    for e in st.close().iter().flatten() {
        ids.event(e);
    }
    assert!(
        ids.live.is_empty(),
        "public Call IDs never given back: {:?}",
        ids.live
    );
    assert_eq!(st.calls_in_use(), 0);
    k
}
