//! The GRE call table of the PPTP ALG: one entry per connected PPTP call, keyed by the Call
//! ID the GRE packets of each direction carry (RFC 2637 §4.1: "Call ID: Contains the Peer's
//! Call ID for the session to which this packet belongs").
//!
//! * **Inbound** (PAC → public address) GRE carries the public Call ID the dataplane chose:
//!   looked up by (public address, public Call ID). The public Call ID is reserved from the
//!   subscriber's port blocks (the ICMP/other bitmap), so it is unique per public address and
//!   the packet is steered to this worker like a port (`steer.rs`).
//! * **Outbound** (PNS → PAC) GRE carries the PAC's Call ID: looked up by (subscriber, PAC
//!   address, PAC Call ID).
//!
//! Entries are created and removed by the control connection's events (`pptp.rs`) and expire
//! after `[alg.pptp] gre_timeout_secs` without a packet in either direction; a bounded number
//! of slots is checked per poll ([`GreTable::sweep`]). The table is preallocated (its size is
//! `alg.max_sessions_per_worker`); nothing is allocated per packet.

use crate::index::{hash64, Index};

/// One connected call: what its GRE packets are translated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GreCallEntry {
    /// The subscriber (PNS) address.
    pub sub_ip: u32,
    /// The public address the PAC knows the subscriber by.
    pub pub_ip: u32,
    /// The PAC (server) address.
    pub pac_ip: u32,
    /// The PNS's own Call ID (inbound GRE is rewritten to it).
    pub inside_call_id: u16,
    /// The public Call ID (inbound GRE carries it).
    pub public_call_id: u16,
    /// The PAC's Call ID (outbound GRE carries it, unchanged).
    pub pac_call_id: u16,
    /// The ALG session slot of the control connection and its generation.
    pub master: u32,
    pub master_gen: u32,
    /// Last packet, worker seconds.
    pub last_s: u32,
}

#[inline]
fn public_key(pub_ip: u32, public_call_id: u16) -> u64 {
    hash64(u64::from(pub_ip) << 16 | u64::from(public_call_id))
}

#[inline]
fn inside_key(sub_ip: u32, pac_ip: u32, pac_call_id: u16) -> u64 {
    hash64(
        (u64::from(sub_ip) << 32 | u64::from(pac_ip))
            ^ u64::from(pac_call_id).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// The calls of one worker, indexed both ways.
#[derive(Debug)]
pub(crate) struct GreTable {
    slots: Vec<Option<GreCallEntry>>,
    free: Vec<u32>,
    by_public: Index,
    by_inside: Index,
    cursor: u32,
}

impl GreTable {
    /// A table of `cap` calls, allocated now.
    pub(crate) fn with_capacity(cap: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            free: (0..cap).rev().collect(),
            by_public: Index::with_capacity(cap),
            by_inside: Index::with_capacity(cap),
            cursor: 0,
        }
    }

    /// Calls held.
    pub(crate) fn len(&self) -> u32 {
        self.by_public.len()
    }

    pub(crate) fn get(&self, i: u32) -> Option<&GreCallEntry> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut GreCallEntry> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// The call inbound GRE to (`pub_ip`, Call ID `public_call_id`) belongs to.
    pub(crate) fn find_inbound(&self, pub_ip: u32, public_call_id: u16) -> Option<u32> {
        self.by_public
            .find(public_key(pub_ip, public_call_id), |i| {
                self.get(i)
                    .is_some_and(|e| e.pub_ip == pub_ip && e.public_call_id == public_call_id)
            })
    }

    /// The call outbound GRE from `sub_ip` to `pac_ip` with Call ID `pac_call_id` belongs to.
    pub(crate) fn find_outbound(&self, sub_ip: u32, pac_ip: u32, pac_call_id: u16) -> Option<u32> {
        self.by_inside
            .find(inside_key(sub_ip, pac_ip, pac_call_id), |i| {
                self.get(i).is_some_and(|e| {
                    e.sub_ip == sub_ip && e.pac_ip == pac_ip && e.pac_call_id == pac_call_id
                })
            })
    }

    /// Inserts `e`. An entry with the same inbound or outbound key is replaced (a PAC reusing
    /// its Call ID: the old call is over) and returned in `.1`. `None`: the table is full.
    pub(crate) fn insert(&mut self, e: GreCallEntry) -> Option<(u32, [Option<GreCallEntry>; 2])> {
        let mut replaced = [None; 2];
        if let Some(old) = self.find_inbound(e.pub_ip, e.public_call_id) {
            replaced[0] = self.remove(old);
        }
        if let Some(old) = self.find_outbound(e.sub_ip, e.pac_ip, e.pac_call_id) {
            replaced[1] = self.remove(old);
        }
        let i = self.free.pop()?;
        self.slots[i as usize] = Some(e);
        self.by_public
            .insert(public_key(e.pub_ip, e.public_call_id), i);
        self.by_inside
            .insert(inside_key(e.sub_ip, e.pac_ip, e.pac_call_id), i);
        Some((i, replaced))
    }

    /// Removes entry `i`.
    pub(crate) fn remove(&mut self, i: u32) -> Option<GreCallEntry> {
        let e = self.slots.get_mut(i as usize)?.take()?;
        self.by_public
            .remove(public_key(e.pub_ip, e.public_call_id), i);
        self.by_inside
            .remove(inside_key(e.sub_ip, e.pac_ip, e.pac_call_id), i);
        self.free.push(i);
        Some(e)
    }

    /// Checks up to `budget` slots from the cursor and removes the calls idle for more than
    /// `timeout_s` (kept while `now_s - last_s <= timeout_s`, like sessions). Returns how many
    /// were removed.
    pub(crate) fn sweep(&mut self, now_s: u32, timeout_s: u32, budget: u32) -> u32 {
        let cap = u32::try_from(self.slots.len()).unwrap_or(0);
        if cap == 0 || self.len() == 0 {
            return 0;
        }
        let mut n = 0;
        for _ in 0..budget.min(cap) {
            let i = self.cursor % cap;
            self.cursor = (i + 1) % cap;
            if self
                .get(i)
                .is_some_and(|e| now_s.saturating_sub(e.last_s) > timeout_s)
            {
                self.remove(i);
                n += 1;
            }
        }
        n
    }

    /// Bytes of preallocated memory.
    pub(crate) fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<GreCallEntry>>()
            + self.free.capacity() * 4
            + self.by_public.memory()
            + self.by_inside.memory()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sub: u32, public: u16, pac: u16) -> GreCallEntry {
        GreCallEntry {
            sub_ip: sub,
            pub_ip: 7,
            pac_ip: 9,
            inside_call_id: 1,
            public_call_id: public,
            pac_call_id: pac,
            master: 0,
            master_gen: 1,
            last_s: 10,
        }
    }

    #[test]
    fn both_keys_find_the_entry_and_removal_clears_them() {
        let mut t = GreTable::with_capacity(4);
        let (a, _) = t.insert(call(1, 2000, 55)).unwrap();
        let (b, _) = t.insert(call(2, 2001, 55)).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.find_inbound(7, 2000), Some(a));
        assert_eq!(t.find_inbound(7, 2001), Some(b));
        assert_eq!(t.find_outbound(1, 9, 55), Some(a));
        assert_eq!(t.find_outbound(2, 9, 55), Some(b));
        assert_eq!(t.find_outbound(1, 8, 55), None);
        assert_eq!(t.remove(a), Some(call(1, 2000, 55)));
        assert_eq!(
            (t.find_inbound(7, 2000), t.find_outbound(1, 9, 55)),
            (None, None)
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn same_key_replaces_and_full_table_refuses() {
        let mut t = GreTable::with_capacity(2);
        t.insert(call(1, 2000, 55)).unwrap();
        let (_, old) = t.insert(call(1, 2002, 55)).unwrap();
        assert_eq!(old, [None, Some(call(1, 2000, 55))]);
        assert_eq!(t.len(), 1);
        t.insert(call(1, 2003, 56)).unwrap();
        assert!(t.insert(call(1, 2004, 57)).is_none());
    }

    #[test]
    fn sweep_removes_only_idle_calls() {
        let mut t = GreTable::with_capacity(4);
        let (a, _) = t.insert(call(1, 2000, 55)).unwrap();
        let (b, _) = t.insert(call(1, 2001, 56)).unwrap();
        t.get_mut(b).unwrap().last_s = 100;
        assert_eq!(t.sweep(110, 100, 4), 0);
        assert_eq!(t.sweep(111, 100, 4), 1);
        assert!(t.get(a).is_none() && t.get(b).is_some());
    }
}
