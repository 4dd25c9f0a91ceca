//! Port-block allocation for the public pool, one instance per worker (RFC 6888, RFC 7422 §2).
//!
//! The usable port range of every public address is cut into blocks of `block_size` ports.
//! Block `n` of every address is owned by worker `n % n_workers` (ARCHITECTURE.md: return
//! traffic is steerable from the destination port alone), so a worker allocates only from the
//! blocks it owns and never coordinates with another worker. Within a block, each protocol
//! (TCP, UDP, ICMP identifier) has its own bitmap, so a block gives a subscriber `block_size`
//! ports per protocol. Ports are chosen at a random offset in the block (RFC 6888 REQ-15).
//!
//! Storage is preallocated at start-up: per-block state for every block this worker owns, and
//! bitmaps for at most `max_subscribers * max_blocks_per_subscriber` blocks in use at once.
//!
//! Addresses can be added while the worker runs ([`PortBlocks::add_addresses`], the API's "add
//! a pool prefix"): they are appended to the address table, so the index of every address
//! already in use (and therefore every [`LocalBlock`] held by a binding) stays valid; a sorted
//! side index keeps [`PortBlocks::addr_index`] a binary search. Growing the tables allocates,
//! which is fine there: it happens once per configuration change between bursts, never per
//! packet.

/// Number of protocols with their own port space in a block (TCP, UDP, ICMP).
pub const PROTOCOLS: usize = 3;

/// Sentinel for "no subscriber" / "no slot".
const NONE: u32 = u32::MAX;

/// Static parameters of the allocator.
#[derive(Debug, Clone)]
pub struct BlockParams {
    /// Public addresses, host order, no duplicates (any order; their position is their index).
    pub pool: Vec<u32>,
    /// First usable port (>= 1024).
    pub port_min: u16,
    /// Last usable port.
    pub port_max: u16,
    /// Ports per block.
    pub block_size: u16,
    /// This worker's index.
    pub worker_id: u16,
    /// Number of workers.
    pub n_workers: u16,
    /// Bitmap slots to preallocate (blocks in use at once).
    pub max_blocks_in_use: u32,
}

/// Identifies a block this worker owns: an index into its local tables.
pub type LocalBlock = u32;

#[derive(Debug, Clone, Copy)]
struct BlockState {
    /// Owning subscriber index, or NONE when free.
    subscriber: u32,
    /// Bitmap slot while allocated.
    slot: u32,
    /// Ports in use, all protocols.
    used: u32,
}

/// Why an allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// The subscriber's address has no free block owned by this worker.
    NoFreeBlock,
    /// No address has a free block (new subscriber).
    PoolExhausted,
    /// All bitmap slots are in use.
    NoSlot,
}

/// A worker's share of the port blocks.
#[derive(Debug)]
pub struct PortBlocks {
    p: BlockParams,
    blocks_per_addr: u32,
    /// Blocks per address owned by this worker.
    local_per_addr: u32,
    words_per_bitmap: usize,
    state: Vec<BlockState>,
    /// Per address: stack of free local block numbers within that address (0..local_per_addr).
    free: Vec<Vec<u32>>,
    free_slots: Vec<u32>,
    bitmaps: Vec<u64>,
    allocated: u32,
    /// Deterministic mode: blocks are assigned by formula, never from the free lists.
    fixed: bool,
    /// Per address: being drained (no new blocks; held ones age out).
    drained: Vec<bool>,
    /// `(address, index)` sorted by address: the lookup behind [`Self::addr_index`].
    by_addr: Vec<(u32, u32)>,
}

/// Why addresses could not be added to a running allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// Deterministic mode: every subscriber's block follows from the pool by formula.
    Deterministic,
    /// More addresses than a `u32` index can hold.
    TooMany,
}

impl PortBlocks {
    /// Builds the allocator and preallocates all its storage.
    pub fn new(p: BlockParams) -> Self {
        let range = u32::from(p.port_max) - u32::from(p.port_min) + 1;
        let blocks_per_addr = range / u32::from(p.block_size.max(1));
        let nw = u32::from(p.n_workers.max(1));
        let w = u32::from(p.worker_id);
        // Blocks n with n % nw == w, n < blocks_per_addr.
        let local_per_addr = if blocks_per_addr > w {
            (blocks_per_addr - w).div_ceil(nw)
        } else {
            0
        };
        let n_addr = p.pool.len();
        let total_local = usize::try_from(local_per_addr).unwrap_or(0) * n_addr;
        let words_per_bitmap = usize::from(p.block_size).div_ceil(64);
        let slots = usize::try_from(p.max_blocks_in_use)
            .unwrap_or(usize::MAX)
            .min(total_local);
        let free = (0..n_addr)
            .map(|_| (0..local_per_addr).rev().collect())
            .collect();
        let free_slots = (0..u32::try_from(slots).unwrap_or(u32::MAX))
            .rev()
            .collect();
        Self {
            blocks_per_addr,
            local_per_addr,
            words_per_bitmap,
            state: vec![
                BlockState {
                    subscriber: NONE,
                    slot: NONE,
                    used: 0
                };
                total_local
            ],
            free,
            free_slots,
            bitmaps: vec![0; slots * words_per_bitmap * PROTOCOLS],
            allocated: 0,
            fixed: false,
            drained: vec![false; n_addr],
            by_addr: Self::sorted_index(&p.pool),
            p,
        }
    }

    fn sorted_index(pool: &[u32]) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = pool.iter().zip(0u32..).map(|(&a, i)| (a, i)).collect();
        v.sort_unstable();
        v
    }

    /// Adds public addresses while the worker runs: each address not yet in the pool gets its
    /// blocks (this worker's share), free and undrained, at a new index after the existing
    /// ones; bitmap slots grow up to `max_blocks_in_use`. Existing blocks, ports and indexes
    /// are untouched. Returns how many addresses were new.
    pub fn add_addresses(&mut self, addrs: &[u32]) -> Result<u32, AddError> {
        if self.fixed {
            return Err(AddError::Deterministic);
        }
        let mut added = 0u32;
        for &a in addrs {
            if self.addr_index(a).is_some() {
                continue;
            }
            let idx = u32::try_from(self.p.pool.len()).map_err(|_| AddError::TooMany)?;
            idx.checked_add(1)
                .and_then(|n| n.checked_mul(self.local_per_addr))
                .ok_or(AddError::TooMany)?;
            self.p.pool.push(a);
            let pos = self.by_addr.partition_point(|&(x, _)| x < a);
            self.by_addr.insert(pos, (a, idx));
            self.free.push((0..self.local_per_addr).rev().collect());
            self.drained.push(false);
            let more = usize::try_from(self.local_per_addr).unwrap_or(0);
            self.state.resize(
                self.state.len() + more,
                BlockState {
                    subscriber: NONE,
                    slot: NONE,
                    used: 0,
                },
            );
            added += 1;
        }
        // Bitmap slots: as many as blocks this worker owns, capped by max_blocks_in_use.
        let have = self.bitmaps.len() / (self.words_per_bitmap * PROTOCOLS).max(1);
        let want = usize::try_from(self.p.max_blocks_in_use)
            .unwrap_or(usize::MAX)
            .min(self.state.len());
        if want > have {
            let lo = u32::try_from(have).map_err(|_| AddError::TooMany)?;
            let hi = u32::try_from(want).map_err(|_| AddError::TooMany)?;
            // Stack: the new slots go underneath, the free ones in use keep their order.
            let mut slots: Vec<u32> = (lo..hi).rev().collect();
            slots.extend_from_slice(&self.free_slots);
            self.free_slots = slots;
            self.bitmaps
                .resize(want * self.words_per_bitmap * PROTOCOLS, 0);
        }
        Ok(added)
    }

    /// Blocks per public address (all workers).
    pub fn blocks_per_addr(&self) -> u32 {
        self.blocks_per_addr
    }

    /// Ports per block.
    pub fn block_size(&self) -> u16 {
        self.p.block_size
    }

    /// Blocks currently allocated by this worker.
    pub fn allocated(&self) -> u32 {
        self.allocated
    }

    /// Number of public addresses.
    pub fn n_addresses(&self) -> usize {
        self.p.pool.len()
    }

    /// Index of `addr` in the pool, if it is a pool address.
    pub fn addr_index(&self, addr: u32) -> Option<u32> {
        self.by_addr
            .binary_search_by_key(&addr, |&(a, _)| a)
            .ok()
            .map(|i| self.by_addr[i].1)
    }

    /// The public address at `idx`.
    pub fn address(&self, idx: u32) -> u32 {
        self.p.pool[idx as usize]
    }

    /// Free blocks of this worker at address `idx`.
    pub fn free_blocks_at(&self, idx: u32) -> usize {
        self.free[idx as usize].len()
    }

    /// Marks public address `addr` as drained (`on`: [`alloc_block`](Self::alloc_block) gives
    /// no new block there; blocks held stay until released) or not. Returns whether `addr` is a
    /// pool address.
    pub fn set_drained(&mut self, addr: u32, on: bool) -> bool {
        match self.addr_index(addr) {
            Some(i) => {
                if let Some(d) = self.drained.get_mut(i as usize) {
                    *d = on;
                }
                true
            }
            None => false,
        }
    }

    /// Whether address index `idx` is being drained.
    pub fn is_drained(&self, idx: u32) -> bool {
        self.drained.get(idx as usize).copied().unwrap_or(false)
    }

    /// Allocates a block at address `addr_idx` for `subscriber`.
    pub fn alloc_block(
        &mut self,
        addr_idx: u32,
        subscriber: u32,
    ) -> Result<LocalBlock, AllocError> {
        let Some(slot) = self.free_slots.last().copied() else {
            return Err(AllocError::NoSlot);
        };
        if self
            .drained
            .get(addr_idx as usize)
            .copied()
            .unwrap_or(false)
        {
            return Err(AllocError::NoFreeBlock);
        }
        let Some(n) = self.free[addr_idx as usize].pop() else {
            return Err(AllocError::NoFreeBlock);
        };
        self.free_slots.pop();
        let lb = addr_idx * self.local_per_addr + n;
        let words = self.words_per_bitmap * PROTOCOLS;
        let base = slot as usize * words;
        self.bitmaps[base..base + words].fill(0);
        self.state[lb as usize] = BlockState {
            subscriber,
            slot,
            used: 0,
        };
        self.allocated += 1;
        Ok(lb)
    }

    /// Allocates block number `n` (within this worker's share of address `addr_idx`) for
    /// `subscriber`, without touching the free lists: deterministic mode (RFC 7422), where the
    /// block follows from the subscriber's address and is never handed to anyone else.
    pub fn alloc_block_at(
        &mut self,
        addr_idx: u32,
        n: u32,
        subscriber: u32,
    ) -> Result<LocalBlock, AllocError> {
        if n >= self.local_per_addr || addr_idx as usize >= self.free.len() {
            return Err(AllocError::NoFreeBlock);
        }
        let lb = addr_idx * self.local_per_addr + n;
        if self.state[lb as usize].subscriber != NONE {
            return Err(AllocError::NoFreeBlock);
        }
        let Some(slot) = self.free_slots.pop() else {
            return Err(AllocError::NoSlot);
        };
        let words = self.words_per_bitmap * PROTOCOLS;
        let base = slot as usize * words;
        self.bitmaps[base..base + words].fill(0);
        self.state[lb as usize] = BlockState {
            subscriber,
            slot,
            used: 0,
        };
        self.allocated += 1;
        self.fixed = true;
        Ok(lb)
    }

    /// Returns a block with no ports in use to the free list.
    pub fn free_block(&mut self, lb: LocalBlock) {
        let st = self.state[lb as usize];
        if st.subscriber == NONE {
            return;
        }
        self.free_slots.push(st.slot);
        self.state[lb as usize] = BlockState {
            subscriber: NONE,
            slot: NONE,
            used: 0,
        };
        if !self.fixed {
            let addr_idx = lb / self.local_per_addr;
            self.free[addr_idx as usize].push(lb % self.local_per_addr);
        }
        self.allocated -= 1;
    }

    /// Blocks this worker owns (allocated or not), i.e. the valid `LocalBlock` range.
    pub fn local_blocks(&self) -> u32 {
        u32::try_from(self.state.len()).unwrap_or(u32::MAX)
    }

    /// The subscriber holding a block, if allocated.
    pub fn owner(&self, lb: LocalBlock) -> Option<u32> {
        let s = self.state.get(lb as usize)?.subscriber;
        (s != NONE).then_some(s)
    }

    /// Ports in use in a block.
    pub fn used(&self, lb: LocalBlock) -> u32 {
        self.state[lb as usize].used
    }

    /// The global block number (within its address) of a local block.
    fn block_number(&self, lb: LocalBlock) -> u32 {
        (lb % self.local_per_addr) * u32::from(self.p.n_workers.max(1))
            + u32::from(self.p.worker_id)
    }

    /// First port of a block.
    pub fn first_port(&self, lb: LocalBlock) -> u16 {
        let off = self.block_number(lb) * u32::from(self.p.block_size);
        u16::try_from(u32::from(self.p.port_min) + off).unwrap_or(u16::MAX)
    }

    /// Public address index of a block.
    pub fn block_addr_index(&self, lb: LocalBlock) -> u32 {
        lb / self.local_per_addr
    }

    /// Takes a free port for protocol index `proto` (0 TCP, 1 UDP, 2 ICMP) in block `lb`,
    /// starting the search at offset `start % block_size`. Returns the port.
    pub fn alloc_port(&mut self, lb: LocalBlock, proto: usize, start: u32) -> Option<u16> {
        self.alloc_port_parity(lb, proto, start, None)
    }

    /// As [`alloc_port`](Self::alloc_port), restricted to even (`Some(false)`) or odd
    /// (`Some(true)`) ports when `odd` is given (RFC 4787 REQ-4 parity preservation).
    pub fn alloc_port_parity(
        &mut self,
        lb: LocalBlock,
        proto: usize,
        start: u32,
        odd: Option<bool>,
    ) -> Option<u16> {
        let st = self.state[lb as usize];
        if st.subscriber == NONE {
            return None;
        }
        let bs = u32::from(self.p.block_size);
        // Offsets whose port has the wanted parity: even offsets when the block starts on a port
        // of that parity, odd offsets otherwise.
        let parity_mask = match odd {
            None => u64::MAX,
            Some(o) => {
                if (self.first_port(lb) & 1 == 1) == o {
                    0x5555_5555_5555_5555
                } else {
                    0xaaaa_aaaa_aaaa_aaaa
                }
            }
        };
        let base = (st.slot as usize * PROTOCOLS + proto) * self.words_per_bitmap;
        let bm = &mut self.bitmaps[base..base + self.words_per_bitmap];
        let start = start % bs;
        // Scan words from the start word, wrapping; bounded by words_per_bitmap + 1 steps.
        let mut off = start;
        for _ in 0..=self.words_per_bitmap {
            let w = (off / 64) as usize;
            let bit = off % 64;
            // Bits from `bit` upward in this word, limited to the block.
            let valid_in_word = (bs - (off - bit)).min(64);
            let mut mask = if valid_in_word == 64 {
                u64::MAX
            } else {
                (1u64 << valid_in_word) - 1
            };
            mask &= (u64::MAX << bit) & parity_mask;
            let free = !bm[w] & mask;
            if free != 0 {
                let b = free.trailing_zeros();
                bm[w] |= 1u64 << b;
                self.state[lb as usize].used += 1;
                let port_off = (off - bit) + b;
                return u16::try_from(u32::from(self.first_port(lb)) + port_off).ok();
            }
            // Next word (wrap to 0).
            off = (off - bit) + 64;
            if off >= bs {
                off = 0;
            }
        }
        None
    }

    /// Takes two free adjacent ports `p` (even) and `p + 1` for protocol index `proto` in block
    /// `lb`, starting the search at offset `start % block_size` (RTP/RTCP pairs, RFC 3550 §11;
    /// RFC 4787 REQ-4 parity). Pairs whose two ports straddle a 64-port bitmap word are not
    /// considered (bounded, word-at-a-time search). Returns `p`.
    pub fn alloc_port_pair(&mut self, lb: LocalBlock, proto: usize, start: u32) -> Option<u16> {
        let st = self.state[lb as usize];
        if st.subscriber == NONE {
            return None;
        }
        let bs = u32::from(self.p.block_size);
        // Offsets whose port is even.
        let even_mask = if self.first_port(lb) & 1 == 0 {
            0x5555_5555_5555_5555u64
        } else {
            0xaaaa_aaaa_aaaa_aaaa
        };
        let base = (st.slot as usize * PROTOCOLS + proto) * self.words_per_bitmap;
        let first = (start % bs) / 64;
        let words = u32::try_from(self.words_per_bitmap).unwrap_or(0);
        for k in 0..words {
            let w = (first + k) % words.max(1);
            let valid = (bs - w * 64).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            let free = !self.bitmaps[base + w as usize] & mask;
            // Bit b free and bit b + 1 free, b at an even port.
            let pairs = free & (free >> 1) & even_mask & (u64::MAX >> 1);
            if pairs != 0 {
                let b = pairs.trailing_zeros();
                self.bitmaps[base + w as usize] |= 3u64 << b;
                self.state[lb as usize].used += 2;
                return u16::try_from(u32::from(self.first_port(lb)) + w * 64 + b).ok();
            }
        }
        None
    }

    /// Releases a port taken by [`alloc_port`](Self::alloc_port). Returns the ports still in use
    /// in the block.
    pub fn free_port(&mut self, lb: LocalBlock, proto: usize, port: u16) -> u32 {
        let st = self.state[lb as usize];
        if st.subscriber == NONE {
            return 0;
        }
        let off = u32::from(port).wrapping_sub(u32::from(self.first_port(lb)));
        if off >= u32::from(self.p.block_size) {
            return st.used;
        }
        let base = (st.slot as usize * PROTOCOLS + proto) * self.words_per_bitmap;
        let w = base + (off / 64) as usize;
        let m = 1u64 << (off % 64);
        if self.bitmaps[w] & m != 0 {
            self.bitmaps[w] &= !m;
            self.state[lb as usize].used -= 1;
        }
        self.state[lb as usize].used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(workers: u16, id: u16) -> BlockParams {
        BlockParams {
            pool: vec![0xcb00_7100, 0xcb00_7101],
            port_min: 1024,
            port_max: 65535,
            block_size: 512,
            worker_id: id,
            n_workers: workers,
            max_blocks_in_use: 1000,
        }
    }

    #[test]
    fn blocks_cover_range_and_respect_ownership() {
        for workers in 1..=4u16 {
            for id in 0..workers {
                let mut pb = PortBlocks::new(params(workers, id));
                assert_eq!(pb.blocks_per_addr(), 126);
                let mut n = 0;
                while let Ok(lb) = pb.alloc_block(0, 7) {
                    let first = pb.first_port(lb);
                    assert!(first >= 1024);
                    let blockno = (u32::from(first) - 1024) / 512;
                    assert_eq!(
                        blockno % u32::from(workers),
                        u32::from(id),
                        "ownership by port"
                    );
                    assert!(u32::from(first) + 511 <= 65535);
                    n += 1;
                }
                let expect = (0..126u32)
                    .filter(|b| b % u32::from(workers) == u32::from(id))
                    .count();
                assert_eq!(n, expect);
            }
        }
    }

    #[test]
    fn every_port_of_a_block_once_then_full() {
        let mut pb = PortBlocks::new(params(1, 0));
        let lb = pb.alloc_block(1, 3).unwrap();
        let first = pb.first_port(lb);
        let mut seen = std::collections::HashSet::new();
        for i in 0..512u32 {
            let p = pb.alloc_port(lb, 1, i.wrapping_mul(2654435761)).unwrap();
            assert!(p >= first && p < first + 512);
            assert!(seen.insert(p), "port {p} handed out twice");
        }
        assert_eq!(pb.alloc_port(lb, 1, 5), None);
        // Other protocols have their own space.
        assert!(pb.alloc_port(lb, 0, 5).is_some());
        assert_eq!(pb.used(lb), 513);
        let p = first + 100;
        assert_eq!(pb.free_port(lb, 1, p), 512);
        assert_eq!(pb.alloc_port(lb, 1, 0), Some(p));
    }

    #[test]
    fn parity_is_preserved_when_asked() {
        let mut pb = PortBlocks::new(params(1, 0));
        let lb = pb.alloc_block(0, 1).unwrap();
        for i in 0..256u32 {
            let p = pb.alloc_port_parity(lb, 1, i * 7, Some(false)).unwrap();
            assert_eq!(p % 2, 0);
        }
        assert_eq!(
            pb.alloc_port_parity(lb, 1, 3, Some(false)),
            None,
            "all even ports used"
        );
        let p = pb.alloc_port_parity(lb, 1, 3, Some(true)).unwrap();
        assert_eq!(p % 2, 1);
    }

    #[test]
    fn port_pairs_are_even_then_odd_and_both_taken() {
        let mut pb = PortBlocks::new(params(1, 0));
        let lb = pb.alloc_block(0, 1).unwrap();
        let first = pb.first_port(lb);
        assert_eq!(first % 2, 0);
        // Take one odd port: its even partner can no longer start a pair.
        let odd = pb.alloc_port_parity(lb, 1, 1, Some(true)).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(p) = pb.alloc_port_pair(lb, 1, 77) {
            assert_eq!(p % 2, 0);
            assert!(p >= first && p + 1 < first + 512);
            assert!(p + 1 != odd && p != odd);
            assert!(seen.insert(p) && seen.insert(p + 1), "never twice");
        }
        assert_eq!(
            seen.len(),
            510,
            "every pair but the one broken by the odd port"
        );
        assert_eq!(pb.used(lb), 511);
        // Both halves are freed separately.
        let p = *seen.iter().next().unwrap();
        pb.free_port(lb, 1, p);
        assert_eq!(
            pb.alloc_port_pair(lb, 1, 0),
            None,
            "its odd half still taken"
        );
        pb.free_port(lb, 1, p + 1);
        assert_eq!(pb.alloc_port_pair(lb, 1, 0), Some(p));
        // Block starting on an odd port: pairs still start on even ports.
        let mut odd_start = params(1, 0);
        odd_start.port_min = 1025;
        let mut pb = PortBlocks::new(odd_start);
        let lb = pb.alloc_block(0, 1).unwrap();
        assert_eq!(pb.first_port(lb) % 2, 1);
        let p = pb.alloc_port_pair(lb, 0, 0).unwrap();
        assert_eq!((p % 2, p - pb.first_port(lb)), (0, 1));
    }

    #[test]
    fn odd_block_size_never_leaves_block() {
        let mut p = params(1, 0);
        p.block_size = 100;
        let mut pb = PortBlocks::new(p);
        let lb = pb.alloc_block(0, 1).unwrap();
        let first = pb.first_port(lb);
        for i in 0..100u32 {
            let port = pb.alloc_port(lb, 2, i * 37 + 99).unwrap();
            assert!(port >= first && port < first + 100);
        }
        assert_eq!(pb.alloc_port(lb, 2, 0), None);
    }

    #[test]
    fn drained_address_gives_no_new_block_but_keeps_held_ones() {
        let mut pb = PortBlocks::new(params(1, 0));
        let held = pb.alloc_block(0, 1).unwrap();
        assert!(pb.set_drained(0xcb00_7100, true));
        assert!(!pb.set_drained(0x0a00_0001, true), "not a pool address");
        assert_eq!(pb.alloc_block(0, 2), Err(AllocError::NoFreeBlock));
        assert!(pb.alloc_block(1, 2).is_ok(), "other addresses unaffected");
        assert!(
            pb.alloc_port(held, 1, 0).is_some(),
            "held block still usable"
        );
        pb.set_drained(0xcb00_7100, false);
        assert!(pb.alloc_block(0, 2).is_ok());
    }

    #[test]
    fn addresses_added_live_keep_held_blocks_and_give_new_ones() {
        let mut p = params(2, 1);
        p.pool = vec![0xcb00_7105, 0xcb00_7100];
        p.max_blocks_in_use = u32::MAX;
        let mut pb = PortBlocks::new(p);
        let per = pb.free_blocks_at(0);
        let slots_before = pb.free_slots.len();
        let held = pb.alloc_block(1, 7).unwrap();
        let (held_addr, held_port) = (pb.address(pb.block_addr_index(held)), pb.first_port(held));
        let port = pb.alloc_port(held, 0, 3).unwrap();
        pb.set_drained(0xcb00_7105, true);
        // One new address below, one between, one above, one already there, one twice.
        let added = pb
            .add_addresses(&[
                0xcb00_70ff,
                0xcb00_7102,
                0xcb00_7200,
                0xcb00_7100,
                0xcb00_7102,
            ])
            .unwrap();
        assert_eq!(added, 3);
        assert_eq!(pb.n_addresses(), 5);
        for (a, i) in [
            (0xcb00_7105, 0),
            (0xcb00_7100, 1),
            (0xcb00_70ff, 2),
            (0xcb00_7102, 3),
            (0xcb00_7200, 4),
        ] {
            assert_eq!(pb.addr_index(a), Some(i), "{a:#x}");
            assert_eq!(pb.address(i), a);
        }
        assert_eq!(pb.addr_index(0xcb00_7101), None);
        // The held block is the same block at the same address; its port is still taken.
        assert_eq!(pb.address(pb.block_addr_index(held)), held_addr);
        assert_eq!(pb.first_port(held), held_port);
        assert_eq!(pb.owner(held), Some(7));
        assert_eq!(pb.free_port(held, 0, port), 0);
        assert!(pb.is_drained(0), "drains survive an addition");
        // The new addresses have all this worker's blocks, with slots to use them.
        for i in 2..5 {
            assert_eq!(pb.free_blocks_at(i), per);
            assert!(!pb.is_drained(i));
        }
        assert_eq!(pb.free_slots.len(), slots_before - 1 + 3 * per);
        let mut got = Vec::new();
        while let Ok(lb) = pb.alloc_block(4, 9) {
            assert_eq!(pb.address(pb.block_addr_index(lb)), 0xcb00_7200);
            assert!(pb.alloc_port(lb, 1, 0).is_some());
            got.push(lb);
        }
        assert_eq!(got.len(), per);
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), per, "every new block distinct");
    }

    #[test]
    fn deterministic_allocator_refuses_new_addresses() {
        let mut pb = PortBlocks::new(params(1, 0));
        pb.alloc_block_at(0, 0, 1).unwrap();
        assert_eq!(pb.add_addresses(&[1]), Err(AddError::Deterministic));
        assert_eq!(pb.n_addresses(), 2);
    }

    #[test]
    fn freed_block_is_reusable_and_slots_bounded() {
        let mut p = params(1, 0);
        p.max_blocks_in_use = 2;
        let mut pb = PortBlocks::new(p);
        let a = pb.alloc_block(0, 1).unwrap();
        let _b = pb.alloc_block(0, 1).unwrap();
        assert_eq!(pb.alloc_block(0, 1), Err(AllocError::NoSlot));
        pb.free_block(a);
        assert_eq!(pb.allocated(), 1);
        assert!(pb.alloc_block(0, 2).is_ok());
    }
}
