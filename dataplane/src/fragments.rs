//! Translation state for IPv4 fragments (RFC 4787 REQ-14, RFC 791).
//!
//! Only the first fragment (offset 0) carries the transport ports, so the NAT decides the
//! translation of a fragmented datagram when it sees that fragment and applies the same
//! translation to the others, which it recognises by the reassembly key of RFC 791:
//! (source, destination, protocol, identification). The NAT never reassembles. RFC 4787 REQ-14:
//! "A NAT MUST support receiving in-order and out-of-order fragments" — so non-first fragments
//! that arrive before the first are held, in bounded preallocated slots (like the ARP hold queue
//! of `neighbors.rs`), and handed back to the caller once the first fragment's translation is
//! recorded.
//!
//! This module owns that state for one worker: a [`FragmentTable`] generic over the buffer type
//! `B` and the caller's translation value `T` (e.g. new address, new port, binding index).
//!
//! Lifecycle of an entry, keyed by [`FragKey`] of the datagram *as received*:
//! - created by [`FragmentTable::record_first`] (first fragment) or by
//!   [`FragmentTable::hold`] (a non-first fragment with no translation yet);
//! - it lives for [`FragParams::timeout_ns`] (default 2 s, the RFC 8512 fragment minimum) after
//!   creation, restarted once when the first fragment is recorded; [`FragmentTable::expire`]
//!   reclaims expired entries from the head of a creation-ordered list (bounded work, no table
//!   walk) and hands their still-held buffers back to be dropped (count [`FragDrop::Timeout`]).
//!   An entry stays usable until `expire` reclaims it: the timeout is a minimum lifetime;
//! - it is removed early once every byte of the datagram was seen: the last fragment (MF clear)
//!   gives the total length and each fragment adds its payload length ([`FragInfo`]).
//!
//! Decisions:
//! - Duplicate first fragment (same key, value already recorded): if its value equals the
//!   recorded one it is accepted (and not counted twice); a *different* value is
//!   [`FragDrop::Conflict`] and the recorded translation stays — the first recorded wins, so a
//!   spoofed or stale first fragment cannot re-steer fragments already in flight. A sender may
//!   not reuse an identification that soon anyway (RFC 6864 §4.1: "MUST NOT repeat IPv4 ID
//!   values within one MDL").
//! - Overlapping or duplicated non-first fragments are translated like any other (the NAT does
//!   not reassemble, the receiver resolves overlaps), but their bytes are counted again, so the
//!   entry may be considered complete early; a fragment arriving after that finds no entry, is
//!   held and dropped on timeout. Only a datagram that was duplicated in the network suffers.
//! - A table or hold area that is full refuses the newcomer ([`FragDrop::TableFull`],
//!   [`FragDrop::HoldFull`], [`FragDrop::DatagramHoldFull`]); nothing is evicted. Every pending
//!   entry holds at least one buffer, so fragments whose first never comes can occupy at most
//!   `max_held_total` entries.
//!
//! No heap allocation after [`FragmentTable::new`]: the entry slab and the hold slots are
//! preallocated and linked by index; the hash map is created with twice the entry capacity so
//! that hashbrown, when tombstones from removals use up its growth budget, always rehashes in
//! place (it only reallocates when more than half full).

use crate::checksum;
use hashbrown::HashMap;

/// Sentinel index.
const NIL: u32 = u32::MAX;

/// The RFC 791 reassembly key of a datagram, as received (before translation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// IP protocol.
    pub proto: u8,
    /// Identification.
    pub ident: u16,
}

impl FragKey {
    /// The key of the IPv4 datagram `ip` (from its header), or `None` if shorter than 20 bytes.
    pub fn of_ipv4(ip: &[u8]) -> Option<Self> {
        let h = ip.get(..20)?;
        Some(Self {
            src: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
            dst: u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
            proto: h[9],
            ident: u16::from_be_bytes([h[4], h[5]]),
        })
    }
}

/// Where a fragment sits in its datagram, for completion accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    /// Offset of its payload in the datagram, in bytes (fragment offset × 8).
    pub offset: u32,
    /// Payload length (total length − IHL).
    pub len: u16,
    /// More-fragments flag.
    pub more: bool,
}

impl FragInfo {
    /// Reads offset, payload length and MF from the IPv4 header `ip`; `None` if the header is
    /// shorter than 20 bytes or its IHL exceeds its total length.
    pub fn of_ipv4(ip: &[u8]) -> Option<Self> {
        let h = ip.get(..20)?;
        let ihl = u16::from(h[0] & 0x0f) * 4;
        let total = u16::from_be_bytes([h[2], h[3]]);
        let flags_frag = u16::from_be_bytes([h[6], h[7]]);
        Some(Self {
            offset: u32::from(flags_frag & 0x1fff) * 8,
            len: total.checked_sub(ihl)?,
            more: flags_frag & 0x2000 != 0,
        })
    }

    /// Whether this is the first fragment (offset 0): it carries the transport header.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// Table parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragParams {
    /// Lifetime of an entry, in nanoseconds (RFC 8512 minimum: 2 s).
    pub timeout_ns: u64,
    /// Datagrams tracked at once (entries).
    pub max_datagrams: u32,
    /// Non-first fragments held per datagram while its first fragment is missing.
    pub max_held_per_datagram: u16,
    /// Non-first fragments held in all.
    pub max_held_total: u16,
}

impl Default for FragParams {
    fn default() -> Self {
        Self {
            timeout_ns: 2_000_000_000,
            max_datagrams: 4096,
            max_held_per_datagram: 16,
            max_held_total: 256,
        }
    }
}

/// Why a fragment was refused. Each maps to one drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragDrop {
    /// No free entry for a new datagram.
    TableFull,
    /// The hold area is full.
    HoldFull,
    /// This datagram already holds `max_held_per_datagram` fragments.
    DatagramHoldFull,
    /// The first fragment never came: a held fragment dropped by [`FragmentTable::expire`].
    Timeout,
    /// A first fragment whose translation differs from the one already recorded for its key.
    Conflict,
    /// [`FragmentTable::hold`] called for a datagram whose translation is known (call
    /// [`FragmentTable::lookup`] first); the buffer is handed back untouched.
    AlreadyRecorded,
}

/// What to do with a non-first fragment ([`FragmentTable::non_first`]).
#[derive(Debug)]
pub enum NonFirst<B, T> {
    /// The translation is known: apply it and forward.
    Translate(B, T),
    /// Held until the first fragment arrives (released by [`FragmentTable::drain_held`]).
    Held,
    /// Refused: drop and count.
    Drop(B, FragDrop),
}

#[derive(Debug, Clone, Copy)]
struct Entry<T> {
    key: FragKey,
    value: Option<T>,
    live: bool,
    expires_ns: u64,
    /// Payload bytes accounted so far.
    seen: u32,
    /// Datagram payload length, once the last fragment was seen.
    total: Option<u32>,
    held_head: u32,
    held_tail: u32,
    held: u16,
    /// Creation-ordered list (live entries) or free list (`next` only).
    prev: u32,
    next: u32,
}

#[derive(Debug)]
struct Slot<B> {
    buf: Option<B>,
    next: u32,
}

/// The fragment state of one worker. See the module documentation.
#[derive(Debug)]
pub struct FragmentTable<B, T> {
    p: FragParams,
    index: HashMap<FragKey, u32>,
    slab: Vec<Entry<T>>,
    free_entry: u32,
    /// Oldest and newest live entry.
    head: u32,
    tail: u32,
    live: u32,
    slots: Vec<Slot<B>>,
    free_slot: u32,
    held_total: u16,
}

#[inline]
fn idx(i: u32) -> usize {
    i as usize
}

impl<B, T: Copy + PartialEq> FragmentTable<B, T> {
    /// Builds an empty table with all storage preallocated.
    pub fn new(p: FragParams) -> Self {
        let n = p.max_datagrams;
        let key0 = FragKey {
            src: 0,
            dst: 0,
            proto: 0,
            ident: 0,
        };
        let slab = (0..n)
            .map(|i| Entry {
                key: key0,
                value: None,
                live: false,
                expires_ns: 0,
                seen: 0,
                total: None,
                held_head: NIL,
                held_tail: NIL,
                held: 0,
                prev: NIL,
                next: if i + 1 < n { i + 1 } else { NIL },
            })
            .collect();
        let m = u32::from(p.max_held_total);
        let slots = (0..m)
            .map(|i| Slot {
                buf: None,
                next: if i + 1 < m { i + 1 } else { NIL },
            })
            .collect();
        Self {
            index: HashMap::with_capacity(idx(n).saturating_mul(2)),
            slab,
            free_entry: if n > 0 { 0 } else { NIL },
            head: NIL,
            tail: NIL,
            live: 0,
            slots,
            free_slot: if m > 0 { 0 } else { NIL },
            held_total: 0,
            p,
        }
    }

    /// Changes the lifetime of entries created from now on (live reconfiguration).
    pub fn set_timeout(&mut self, timeout_ns: u64) {
        self.p.timeout_ns = timeout_ns;
    }

    /// The table parameters.
    pub fn params(&self) -> FragParams {
        self.p
    }

    /// Datagrams tracked.
    pub fn len(&self) -> u32 {
        self.live
    }

    /// Whether no datagram is tracked.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Fragments held in all.
    pub fn held(&self) -> u16 {
        self.held_total
    }

    /// Fragments held for `key`.
    pub fn held_for(&self, key: &FragKey) -> u16 {
        self.entry(key).map_or(0, |e| e.held)
    }

    fn entry(&self, key: &FragKey) -> Option<&Entry<T>> {
        let &i = self.index.get(key)?;
        self.slab.get(idx(i))
    }

    /// Records the translation `value` decided from the first fragment of `key` (described by
    /// `info`), at `now`. Then call [`Self::drain_held`] to get fragments that arrived before it.
    ///
    /// A duplicate first fragment with the same value is accepted; a different value is
    /// [`FragDrop::Conflict`] while the recorded entry's lifetime lasts (the recorded value
    /// stays: drop the newcomer), and replaces it once that lifetime is over (a new datagram
    /// reusing the identification). [`FragDrop::TableFull`] when a new entry is needed
    /// and none is free: the remaining fragments cannot be translated, so dropping the first
    /// one too is the cheapest course.
    pub fn record_first(
        &mut self,
        key: FragKey,
        value: T,
        info: FragInfo,
        now: u64,
    ) -> Result<(), FragDrop> {
        let expires = now.saturating_add(self.p.timeout_ns);
        if let Some(&i) = self.index.get(&key) {
            let Some(e) = self.slab.get_mut(idx(i)) else {
                return Err(FragDrop::TableFull);
            };
            match e.value {
                Some(v) if v == value => return Ok(()),
                Some(_) if e.expires_ns > now => return Err(FragDrop::Conflict),
                Some(_) => {
                    // The recorded datagram's lifetime is over (not yet reclaimed): this is a
                    // new datagram reusing the identification. Start afresh.
                    e.value = Some(value);
                    e.expires_ns = expires;
                    e.seen = 0;
                    e.total = None;
                    account(e, info);
                    self.unlink(i);
                    self.push_tail(i);
                    self.complete_if_done(i);
                    return Ok(());
                }
                None => {
                    e.value = Some(value);
                    e.expires_ns = expires;
                    account(e, info);
                    self.unlink(i);
                    self.push_tail(i);
                    self.complete_if_done(i);
                    return Ok(());
                }
            }
        }
        let i = self.alloc_entry(key, expires).ok_or(FragDrop::TableFull)?;
        if let Some(e) = self.slab.get_mut(idx(i)) {
            e.value = Some(value);
            account(e, info);
        }
        self.complete_if_done(i);
        Ok(())
    }

    /// The translation recorded for `key`, if any, accounting the non-first fragment `info`
    /// (the entry is removed once every byte was seen). `None`: hold the fragment with
    /// [`Self::hold`].
    pub fn lookup(&mut self, key: &FragKey, info: FragInfo) -> Option<T> {
        let &i = self.index.get(key)?;
        let e = self.slab.get_mut(idx(i))?;
        let v = e.value?;
        account(e, info);
        self.complete_if_done(i);
        Some(v)
    }

    /// The translation recorded for `key`, without accounting anything.
    pub fn peek(&self, key: &FragKey) -> Option<T> {
        self.entry(key)?.value
    }

    /// Holds the non-first fragment `buf` (described by `info`) of `key` until its first
    /// fragment is recorded, creating the entry at `now` if needed. Hands `buf` back with the
    /// reason when refused (limits, table full, or [`FragDrop::AlreadyRecorded`]).
    pub fn hold(
        &mut self,
        key: FragKey,
        buf: B,
        info: FragInfo,
        now: u64,
    ) -> Result<(), (B, FragDrop)> {
        let existing = self.index.get(&key).copied();
        if let Some(e) = existing.and_then(|i| self.slab.get(idx(i))) {
            if e.value.is_some() {
                return Err((buf, FragDrop::AlreadyRecorded));
            }
            if e.held >= self.p.max_held_per_datagram {
                return Err((buf, FragDrop::DatagramHoldFull));
            }
        } else if self.p.max_held_per_datagram == 0 {
            return Err((buf, FragDrop::DatagramHoldFull));
        }
        if self.free_slot == NIL {
            return Err((buf, FragDrop::HoldFull));
        }
        let i = match existing {
            Some(i) => i,
            None => match self.alloc_entry(key, now.saturating_add(self.p.timeout_ns)) {
                Some(i) => i,
                None => return Err((buf, FragDrop::TableFull)),
            },
        };
        let s = self.free_slot;
        let Some(slot) = self.slots.get_mut(idx(s)) else {
            return Err((buf, FragDrop::HoldFull));
        };
        self.free_slot = slot.next;
        slot.buf = Some(buf);
        slot.next = NIL;
        self.held_total += 1;
        let Some(e) = self.slab.get_mut(idx(i)) else {
            return Ok(());
        };
        let tail = e.held_tail;
        e.held_tail = s;
        if e.held_head == NIL {
            e.held_head = s;
        }
        e.held += 1;
        account(e, info);
        if let Some(t) = self.slots.get_mut(idx(tail)) {
            t.next = s;
        }
        Ok(())
    }

    /// The recommended entry point for a non-first fragment: [`Self::lookup`], else
    /// [`Self::hold`].
    pub fn non_first(&mut self, key: FragKey, buf: B, info: FragInfo, now: u64) -> NonFirst<B, T> {
        if let Some(v) = self.lookup(&key, info) {
            return NonFirst::Translate(buf, v);
        }
        match self.hold(key, buf, info, now) {
            Ok(()) => NonFirst::Held,
            Err((b, r)) => NonFirst::Drop(b, r),
        }
    }

    /// Hands every fragment held for `key` to `release`, in arrival order, if its translation
    /// is recorded (returns how many). Call right after [`Self::record_first`].
    pub fn drain_held(&mut self, key: &FragKey, mut release: impl FnMut(B)) -> u16 {
        let Some(&i) = self.index.get(key) else {
            return 0;
        };
        match self.slab.get(idx(i)) {
            Some(e) if e.value.is_some() => {}
            _ => return 0,
        }
        let n = self.free_held(i, &mut release);
        self.complete_if_done(i);
        n
    }

    /// Timer work: removes up to `budget` entries whose lifetime ended at or before `now`,
    /// oldest first, handing their held fragments to `dropped` (count each as
    /// [`FragDrop::Timeout`]). Returns the number of entries removed. Never walks the table.
    pub fn expire(&mut self, now: u64, budget: usize, mut dropped: impl FnMut(B)) -> usize {
        let mut n = 0;
        while n < budget {
            let i = self.head;
            match self.slab.get(idx(i)) {
                Some(e) if e.expires_ns <= now => {}
                _ => break,
            }
            self.free_held(i, &mut dropped);
            self.remove(i);
            n += 1;
        }
        n
    }

    /// Takes entry `i`'s held buffers off their slots (to the free list) and passes them on.
    fn free_held(&mut self, i: u32, f: &mut impl FnMut(B)) -> u16 {
        let Some(e) = self.slab.get_mut(idx(i)) else {
            return 0;
        };
        let mut s = e.held_head;
        e.held_head = NIL;
        e.held_tail = NIL;
        e.held = 0;
        let mut n = 0;
        while let Some(slot) = self.slots.get_mut(idx(s)) {
            let next = slot.next;
            slot.next = self.free_slot;
            self.free_slot = s;
            if let Some(b) = slot.buf.take() {
                self.held_total = self.held_total.saturating_sub(1);
                n += 1;
                f(b);
            }
            s = next;
        }
        n
    }

    /// Removes entry `i` if its translation is known, nothing is held and every byte was seen.
    fn complete_if_done(&mut self, i: u32) {
        let done = match self.slab.get(idx(i)) {
            Some(e) => e.value.is_some() && e.held == 0 && e.total.is_some_and(|t| e.seen >= t),
            None => false,
        };
        if done {
            self.remove(i);
        }
    }

    fn alloc_entry(&mut self, key: FragKey, expires_ns: u64) -> Option<u32> {
        let i = self.free_entry;
        let e = self.slab.get_mut(idx(i))?;
        self.free_entry = e.next;
        *e = Entry {
            key,
            value: None,
            live: true,
            expires_ns,
            seen: 0,
            total: None,
            held_head: NIL,
            held_tail: NIL,
            held: 0,
            prev: NIL,
            next: NIL,
        };
        self.index.insert(key, i);
        self.live += 1;
        self.push_tail(i);
        Some(i)
    }

    /// Unlinks and frees entry `i` (its held buffers must already be gone).
    fn remove(&mut self, i: u32) {
        let key = match self.slab.get(idx(i)) {
            Some(e) if e.live => e.key,
            _ => return,
        };
        self.unlink(i);
        self.index.remove(&key);
        if let Some(e) = self.slab.get_mut(idx(i)) {
            e.live = false;
            e.value = None;
            e.next = self.free_entry;
        }
        self.free_entry = i;
        self.live = self.live.saturating_sub(1);
    }

    fn unlink(&mut self, i: u32) {
        let Some(e) = self.slab.get_mut(idx(i)) else {
            return;
        };
        let (prev, next) = (e.prev, e.next);
        e.prev = NIL;
        e.next = NIL;
        match self.slab.get_mut(idx(prev)) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.slab.get_mut(idx(next)) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_tail(&mut self, i: u32) {
        let tail = self.tail;
        if let Some(e) = self.slab.get_mut(idx(i)) {
            e.prev = tail;
            e.next = NIL;
        }
        match self.slab.get_mut(idx(tail)) {
            Some(t) => t.next = i,
            None => self.head = i,
        }
        self.tail = i;
    }
}

/// Adds one fragment to an entry's completion accounting.
fn account<T>(e: &mut Entry<T>, info: FragInfo) {
    e.seen = e.seen.saturating_add(u32::from(info.len));
    if !info.more {
        e.total = Some(info.offset.saturating_add(u32::from(info.len)));
    }
}

/// Rewrites the source and/or destination address of the IPv4 header `ip` of a non-first
/// fragment, updating the header checksum incrementally (RFC 1624). Non-first fragments carry no
/// transport header: the transport checksum was fixed when the first fragment was translated
/// (it covers the whole datagram, and only addresses and ports changed). Returns `false`, and
/// changes nothing, if `ip` is shorter than 20 bytes.
pub fn translate_fragment_addr(ip: &mut [u8], src: Option<u32>, dst: Option<u32>) -> bool {
    let Some(h) = ip.get_mut(..20) else {
        return false;
    };
    let mut c = u16::from_be_bytes([h[10], h[11]]);
    for (at, new) in [(12, src), (16, dst)] {
        if let Some(new) = new {
            let old = u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
            h[at..at + 4].copy_from_slice(&new.to_be_bytes());
            c = checksum::update32(c, old, new);
        }
    }
    h[10..12].copy_from_slice(&c.to_be_bytes());
    true
}
