use super::*;
use proptest::prelude::*;

/// A PORT rewrite of `PORT 10,0,0,1,156,64` (17 bytes of numbers) to `203,0,113,200,156,64`
/// (20 bytes): +3.
const GROW: (u16, u16) = (17, 20);

#[test]
fn no_history_is_identity() {
    let mut h = SeqHistory::new();
    assert_eq!(h.map_seq(12345), 12345);
    assert_eq!(h.unmap_ack(12345), 12345);
    assert_eq!(h.unmap_sack(1, 5), Some((1, 5)));
    assert!(h.record(100, 5, 5).is_ok());
    assert!(h.is_empty());
}

#[test]
fn retransmission_before_and_after_a_correction_point() {
    let mut h = SeqHistory::new();
    // Segment at 1000 rewritten at payload offset 5: bytes [1005, 1022) became 20 bytes.
    h.record(1005, GROW.0, GROW.1).unwrap();
    // Retransmission of that same segment, and of earlier data: unchanged.
    assert_eq!(h.map_seq(1000), 1000);
    assert_eq!(h.map_seq(900), 900);
    // Later data, including a retransmission that starts right after the rewritten text.
    assert_eq!(h.map_seq(1022), 1025);
    assert_eq!(h.map_seq(1100), 1103);
    // ACKs back.
    assert_eq!(h.clone().unmap_ack(1000), 1000);
    assert_eq!(h.clone().unmap_ack(1025), 1022);
    assert_eq!(h.clone().unmap_ack(1103), 1100);
    // An ACK covering only part of the rewritten text acknowledges up to its start.
    assert_eq!(h.clone().unmap_ack(1010), 1005);
    assert_eq!(h.clone().unmap_ack(1024), 1005);
}

#[test]
fn length_changing_rewrite_under_retransmission_and_sack_with_two_corrections() {
    // Security record #10: two corrections in flight, one growing, one shrinking.
    let mut h = SeqHistory::new();
    h.record(1005, 17, 20).unwrap(); // +3 after 1022
    h.record(2005, 20, 11).unwrap(); // -9 after 2025
    assert_eq!(h.offset(), 0u32.wrapping_sub(6));
    // Retransmissions across both corrections.
    assert_eq!(h.map_seq(1000), 1000);
    assert_eq!(h.map_seq(2000), 2003);
    assert_eq!(h.map_seq(2025), 2019);
    assert_eq!(h.map_seq(3000), 2994);
    // SACK blocks: one between the corrections, one after both, one straddling the second.
    assert_eq!(h.unmap_sack(1103, 2003), Some((1100, 2000)));
    assert_eq!(h.unmap_sack(2019, 2994), Some((2025, 3000)));
    assert_eq!(h.unmap_sack(2010, 2994), Some((2025, 3000)));
    // A block entirely inside the rewritten text says nothing about original bytes.
    assert_eq!(h.unmap_sack(2010, 2015), None);
    // The receiver acknowledges past the first correction: it is folded, the second stays.
    assert_eq!(h.unmap_ack(1103), 1100);
    assert_eq!(h.len(), 1);
    assert_eq!(h.map_seq(1100), 1103);
    assert_eq!(h.map_seq(2025), 2019);
    // A late, older ACK does not acknowledge more than the newest did.
    assert_eq!(h.unmap_ack(1050), 1047);
    assert_eq!(h.unmap_ack(2994), 3000);
    assert!(h.is_empty());
    assert_eq!(h.map_seq(3000), 2994);
}

#[test]
fn wraparound_of_the_sequence_space() {
    let mut h = SeqHistory::new();
    let at = u32::MAX - 5;
    h.record(at, 17, 20).unwrap(); // replaced range wraps: ends at 11
    assert_eq!(h.map_seq(u32::MAX - 10), u32::MAX - 10);
    assert_eq!(h.map_seq(11), 14);
    assert_eq!(h.map_seq(1000), 1003);
    assert_eq!(h.unmap_sack(14, 1003), Some((11, 1000)));
    assert_eq!(h.unmap_ack(1003), 1000);
    assert!(h.is_empty());
    // Recording behind the folded correction is refused.
    assert_eq!(h.record(u32::MAX - 20, 1, 2), Err(SeqError::OutOfOrder));
}

#[test]
fn identical_retransmitted_rewrite_is_recorded_once() {
    let mut h = SeqHistory::new();
    h.record(1005, 17, 20).unwrap();
    h.record(1005, 17, 20).unwrap();
    assert_eq!(h.len(), 1);
    // The same data rewritten with a different length: refused.
    assert_eq!(h.record(1005, 17, 19), Err(SeqError::OutOfOrder));
    assert_eq!(h.record(1010, 1, 2), Err(SeqError::OutOfOrder));
}

#[test]
fn history_full_until_acknowledged() {
    let mut h = SeqHistory::new();
    for i in 0..HISTORY_LEN {
        h.record(1000 + 100 * u32::try_from(i).unwrap(), 10, 12)
            .unwrap();
    }
    assert_eq!(h.record(5000, 10, 12), Err(SeqError::HistoryFull));
    // Nothing changed by the failed attempt, and record_edits is all or nothing.
    assert_eq!(h.len(), HISTORY_LEN);
    let edits = [crate::edit::Edit::new(0, 1, b"xx").unwrap()];
    assert_eq!(h.record_edits(5000, &edits), Err(SeqError::HistoryFull));
    // ACK past the first two corrections (translated 1000+12+2, 1100+12+4 ...).
    let t = h.map_seq(1200);
    assert_eq!(h.unmap_ack(t), 1200);
    assert_eq!(h.len(), HISTORY_LEN - 2);
    h.record_edits(5000, &edits).unwrap();
    assert_eq!(h.map_seq(5001), 5001 + 2 * 8 + 1);
}

#[test]
fn keepalive_probe_at_snd_una_minus_one_still_maps() {
    let mut h = SeqHistory::new();
    h.record(1005, 17, 20).unwrap();
    // Receiver acknowledges exactly the end of the rewritten text: not folded yet.
    assert_eq!(h.unmap_ack(1025), 1022);
    assert_eq!(h.len(), 1);
    assert_eq!(h.map_seq(1021), 1005);
    assert_eq!(h.unmap_ack(1026), 1023);
    assert!(h.is_empty());
    assert_eq!(h.map_seq(1022), 1025);
}

// ---------------------------------------------------------------------------------------
// Reference model: positions relative to the initial sequence number, no modular arithmetic;
// the translated position of every original boundary is computed by counting bytes.

#[derive(Debug, Clone, Copy)]
struct Region {
    start: u64,
    old: u64,
    new: u64,
}

impl Region {
    fn end(&self) -> u64 {
        self.start + self.old
    }
}

/// Translated positions of the original boundaries `0..=limit` that are not strictly inside
/// a replaced range: `hi` counts the replacement text of an insertion at the boundary itself
/// (where data *after* the boundary lands), `lo` does not (where data *before* it ends).
struct Model {
    /// (original boundary, lo, hi), increasing.
    points: Vec<(u64, u64, u64)>,
}

impl Model {
    fn new(regions: &[Region], limit: u64) -> Self {
        let mut points = Vec::new();
        let mut kept = 0u64; // kept original bytes before y
        for y in 0..=limit {
            let inside = regions.iter().any(|r| y > r.start && y < r.end());
            if !inside {
                let lo: u64 = kept
                    + regions
                        .iter()
                        .filter(|r| r.end() <= y && !(r.old == 0 && r.start == y))
                        .map(|r| r.new)
                        .sum::<u64>();
                let hi: u64 = kept
                    + regions
                        .iter()
                        .filter(|r| r.end() <= y)
                        .map(|r| r.new)
                        .sum::<u64>();
                points.push((y, lo, hi));
            }
            if !regions.iter().any(|r| y >= r.start && y < r.end()) {
                kept += 1;
            }
        }
        Self { points }
    }
    /// Translated position of a boundary (segment start).
    fn map(&self, x: u64) -> Option<u64> {
        self.points.iter().find(|p| p.0 == x).map(|p| p.2)
    }
    /// Largest boundary whose end-of-data position is <= t.
    fn down(&self, t: u64) -> u64 {
        let i = self.points.partition_point(|p| p.1 <= t);
        self.points[i - 1].0
    }
    /// Smallest boundary whose start-of-data position is >= t.
    fn up(&self, t: u64) -> u64 {
        let i = self.points.partition_point(|p| p.2 < t);
        self.points[i].0
    }
}

fn wrap(isn: u32, x: u64) -> u32 {
    isn.wrapping_add(u32::try_from(x).unwrap())
}

fn isn_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), (u32::MAX - 600)..=u32::MAX]
}

fn regions_strategy(max: usize) -> impl Strategy<Value = Vec<Region>> {
    prop::collection::vec((1u64..40, 0u64..20, 0u64..30), 0..max).prop_map(|v| {
        let mut pos = 0;
        let mut out = Vec::new();
        for (gap, old, new) in v {
            let start = pos + gap;
            if old != new {
                out.push(Region { start, old, new });
            }
            pos = start + old;
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn matches_reference_model(isn in isn_strategy(), regions in regions_strategy(HISTORY_LEN + 1)) {
        let regions: Vec<Region> = regions.into_iter().take(HISTORY_LEN).collect();
        let mut h = SeqHistory::new();
        for r in &regions {
            h.record(wrap(isn, r.start), u16::try_from(r.old).unwrap(), u16::try_from(r.new).unwrap()).unwrap();
        }
        let limit = regions.last().map_or(0, Region::end) + 20;
        let m = Model::new(&regions, limit + 40);
        for x in 0..limit {
            if let Some(t) = m.map(x) {
                prop_assert_eq!(h.map_seq(wrap(isn, x)), wrap(isn, t), "map {}", x);
            }
        }
        for t in 0..m.map(limit).unwrap() {
            let tt = wrap(isn, t);
            prop_assert_eq!(h.unmap(tt, false), wrap(isn, m.down(t)), "down {}", t);
            prop_assert_eq!(h.unmap(tt, true), wrap(isn, m.up(t)), "up {}", t);
            prop_assert_eq!(h.clone().unmap_ack(tt), wrap(isn, m.down(t)));
        }
    }

    #[test]
    fn with_acks_and_folding_matches_reference_model(
        isn in isn_strategy(),
        ops in prop::collection::vec((any::<bool>(), 1u64..30, 0u64..12, 0u64..16, 0u64..100), 1..40),
    ) {
        let mut h = SeqHistory::new();
        let mut regions: Vec<Region> = Vec::new();
        let mut pos = 0u64; // end of original data sent so far
        let mut acked_t = 0u64; // highest translated ACK
        for (is_edit, gap, old, new, ack_back) in ops {
            let m = Model::new(&regions, pos + 80);
            if is_edit {
                let start = pos + gap;
                pos = start + old;
                if old == new { continue; }
                let acked_o = m.down(acked_t);
                match h.record(wrap(isn, start), u16::try_from(old).unwrap(), u16::try_from(new).unwrap()) {
                    Ok(()) => regions.push(Region { start, old, new }),
                    Err(SeqError::HistoryFull) => {
                        let unfolded = regions.iter().filter(|r| r.end() >= acked_o).count();
                        prop_assert!(unfolded >= HISTORY_LEN);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            } else {
                // The receiver acknowledges something between the last ACK and the end.
                let end_t = m.map(pos).unwrap();
                let t = end_t.saturating_sub(ack_back).max(acked_t);
                prop_assert_eq!(h.unmap_ack(wrap(isn, t)), wrap(isn, m.down(t)));
                acked_t = t;
            }
            // Everything from just before the acknowledged point on still maps exactly.
            let m = Model::new(&regions, pos + 80);
            let acked_o = m.down(acked_t);
            for x in acked_o.saturating_sub(1)..pos + 5 {
                if let Some(t) = m.map(x) {
                    prop_assert_eq!(h.map_seq(wrap(isn, x)), wrap(isn, t));
                }
            }
            for t in acked_t..m.map(pos).unwrap() + 5 {
                prop_assert_eq!(h.unmap(wrap(isn, t), false), wrap(isn, m.down(t)));
                prop_assert_eq!(h.unmap(wrap(isn, t), true), wrap(isn, m.up(t)));
            }
        }
    }
}
