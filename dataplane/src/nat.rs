//! NAT44 state of one worker: subscribers, their port blocks, bindings, and expiry.
//!
//! A subscriber's blocks are all on one public address (paired pooling, RFC 6888 REQ-2,
//! RFC 4787 REQ-2). The address is chosen when the subscriber gets its first block: a hash of
//! the subscriber address picks a starting pool address, then the first address with a free
//! block owned by this worker wins, so subscribers spread over the pool deterministically.
//! When a subscriber's last binding expires, its blocks return to the pool.

use crate::bindings::{key, Binding, BindingTable, TimeoutClass, CLASSES};
use crate::counters::DropReason;
use crate::port_block::{AllocError, BlockParams, LocalBlock, PortBlocks};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use hashbrown::HashMap;

/// Most blocks one subscriber can hold (per-record inline storage).
pub const MAX_BLOCKS_PER_SUBSCRIBER: usize = 32;

const NONE: u32 = u32::MAX;

/// Timeouts per class, in seconds (RFC 8512 defaults in [`Timeouts::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP mapping (RFC 4787 REQ-5: at least 120 s; default 300 s).
    pub udp: u32,
    /// TCP established idle (RFC 5382 REQ-5: default 7440 s).
    pub tcp_established: u32,
    /// TCP transitory (240 s).
    pub tcp_transitory: u32,
    /// ICMP query (RFC 5508 REQ-2: 60 s).
    pub icmp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            icmp: 60,
        }
    }
}

impl Timeouts {
    fn of(&self, c: usize) -> u32 {
        match c {
            0 => self.udp,
            1 => self.tcp_established,
            2 => self.tcp_transitory,
            _ => self.icmp,
        }
    }
}

/// Parameters of the NAT state.
#[derive(Debug, Clone)]
pub struct NatParams {
    /// Port-block allocator parameters.
    pub blocks: BlockParams,
    /// Blocks a subscriber may hold (<= [`MAX_BLOCKS_PER_SUBSCRIBER`]).
    pub max_blocks_per_subscriber: u16,
    /// Binding table capacity.
    pub max_bindings: u32,
    /// Subscriber table capacity.
    pub max_subscribers: u32,
    /// Timeouts.
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Copy)]
struct Subscriber {
    ip: u32,
    addr_idx: u32,
    n_blocks: u8,
    bindings: u32,
    blocks: [LocalBlock; MAX_BLOCKS_PER_SUBSCRIBER],
}

/// The protocol's index in a port block's bitmaps.
#[inline]
pub fn proto_index(proto: u8) -> usize {
    match proto {
        PROTO_TCP => 0,
        PROTO_UDP => 1,
        _ => 2,
    }
}

/// A worker's NAT state.
#[derive(Debug)]
pub struct NatState {
    params: NatParams,
    /// The binding table.
    pub bindings: BindingTable,
    blocks: PortBlocks,
    subs: Vec<Subscriber>,
    sub_free: Vec<u32>,
    sub_index: HashMap<u32, u32>,
    rng: u64,
}

/// What a successful outbound lookup-or-create returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    /// Binding index.
    pub idx: u32,
    /// Whether the binding was created by this packet.
    pub created: bool,
    /// Whether a new port block was allocated for it.
    pub new_block: bool,
    /// Whether a new subscriber record was created for it.
    pub new_subscriber: bool,
}

impl NatState {
    /// Builds the state, preallocating every table.
    pub fn new(params: NatParams, seed: u64) -> Self {
        let ms = params.max_subscribers as usize;
        Self {
            bindings: BindingTable::with_capacity(params.max_bindings),
            blocks: PortBlocks::new(params.blocks.clone()),
            subs: Vec::with_capacity(ms),
            sub_free: Vec::with_capacity(ms),
            sub_index: HashMap::with_capacity(ms),
            rng: seed | 1,
            params,
        }
    }

    /// Whether `addr` is a pool address.
    #[inline]
    pub fn is_pool_address(&self, addr: u32) -> bool {
        self.blocks.addr_index(addr).is_some()
    }

    /// Subscribers with state on this worker.
    pub fn subscribers(&self) -> usize {
        self.sub_index.len()
    }

    /// Blocks allocated on this worker.
    pub fn blocks_allocated(&self) -> u32 {
        self.blocks.allocated()
    }

    /// The port-block allocator (read-only).
    pub fn port_blocks(&self) -> &PortBlocks {
        &self.blocks
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: fast, good enough for port choice (RFC 6888 REQ-15 wants ports that are
        // hard to guess, not cryptographic randomness).
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Finds the binding for an outbound packet or creates one.
    pub fn map_outbound(
        &mut self,
        proto: u8,
        src: u32,
        sport: u16,
        now_s: u32,
    ) -> Result<Mapped, DropReason> {
        if let Some(idx) = self.bindings.find_inside(key(proto, src, sport)) {
            return Ok(Mapped {
                idx,
                created: false,
                new_block: false,
                new_subscriber: false,
            });
        }
        if self.bindings.is_full() {
            return Err(DropReason::BindingTableFull);
        }
        let (si, new_subscriber) = match self.sub_index.get(&src) {
            Some(&i) => (i, false),
            None => (self.new_subscriber(src)?, true),
        };
        let pi = proto_index(proto);
        let mut found = None;
        let rnd = self.next_random();
        let n = usize::from(self.subs[si as usize].n_blocks);
        // Try the blocks the subscriber already holds, starting at a random one.
        for k in 0..n {
            let s = &self.subs[si as usize];
            let lb = s.blocks[(k + (rnd >> 32) as usize) % n];
            if let Some(p) = self.blocks.alloc_port(lb, pi, (rnd & 0xffff_ffff) as u32) {
                found = Some((lb, p));
                break;
            }
        }
        let mut new_block = false;
        if found.is_none() {
            match self.grow_subscriber(si) {
                Ok(lb) => {
                    new_block = true;
                    found = self
                        .blocks
                        .alloc_port(lb, pi, (rnd & 0xffff_ffff) as u32)
                        .map(|p| (lb, p));
                }
                Err(e) => {
                    if new_subscriber {
                        self.release_subscriber(si);
                    }
                    return Err(e);
                }
            }
        }
        let Some((lb, pub_port)) = found else {
            return Err(DropReason::PortExhausted);
        };
        let pub_ip = self.blocks.address(self.blocks.block_addr_index(lb));
        let class = initial_class(proto);
        let b = Binding::new(src, sport, pub_ip, pub_port, proto, si, lb, now_s);
        let Some(idx) = self.bindings.insert(b, class) else {
            self.blocks.free_port(lb, pi, pub_port);
            return Err(DropReason::BindingTableFull);
        };
        self.subs[si as usize].bindings += 1;
        Ok(Mapped {
            idx,
            created: true,
            new_block,
            new_subscriber,
        })
    }

    fn new_subscriber(&mut self, ip: u32) -> Result<u32, DropReason> {
        if self.sub_index.len() >= self.params.max_subscribers as usize {
            return Err(DropReason::SubscriberTableFull);
        }
        let rec = Subscriber {
            ip,
            addr_idx: NONE,
            n_blocks: 0,
            bindings: 0,
            blocks: [0; MAX_BLOCKS_PER_SUBSCRIBER],
        };
        let si = if let Some(i) = self.sub_free.pop() {
            self.subs[i as usize] = rec;
            i
        } else {
            let i = u32::try_from(self.subs.len()).map_err(|_| DropReason::SubscriberTableFull)?;
            self.subs.push(rec);
            i
        };
        self.sub_index.insert(ip, si);
        Ok(si)
    }

    fn release_subscriber(&mut self, si: u32) {
        let s = self.subs[si as usize];
        for &lb in &s.blocks[..usize::from(s.n_blocks)] {
            self.blocks.free_block(lb);
        }
        self.sub_index.remove(&s.ip);
        self.subs[si as usize].n_blocks = 0;
        self.sub_free.push(si);
    }

    /// Gives the subscriber one more block on its public address (choosing the address for its
    /// first block).
    fn grow_subscriber(&mut self, si: u32) -> Result<LocalBlock, DropReason> {
        let s = self.subs[si as usize];
        let limit =
            usize::from(self.params.max_blocks_per_subscriber).min(MAX_BLOCKS_PER_SUBSCRIBER);
        if usize::from(s.n_blocks) >= limit {
            return Err(DropReason::PortExhausted);
        }
        let lb = if s.addr_idx == NONE {
            let n = self.blocks.n_addresses();
            if n == 0 {
                return Err(DropReason::PoolExhausted);
            }
            let start = (u64::from(s.ip).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % n;
            let mut got = None;
            for k in 0..n {
                let ai = u32::try_from((start + k) % n).unwrap_or(0);
                match self.blocks.alloc_block(ai, si) {
                    Ok(lb) => {
                        got = Some((ai, lb));
                        break;
                    }
                    Err(AllocError::NoFreeBlock) => continue,
                    Err(_) => return Err(DropReason::PoolExhausted),
                }
            }
            let Some((ai, lb)) = got else {
                return Err(DropReason::PoolExhausted);
            };
            self.subs[si as usize].addr_idx = ai;
            lb
        } else {
            self.blocks
                .alloc_block(s.addr_idx, si)
                .map_err(|_| DropReason::PortExhausted)?
        };
        let s = &mut self.subs[si as usize];
        s.blocks[usize::from(s.n_blocks)] = lb;
        s.n_blocks += 1;
        Ok(lb)
    }

    /// Finds the binding for an inbound packet.
    #[inline]
    pub fn map_inbound(&self, proto: u8, dst: u32, dport: u16) -> Option<u32> {
        self.bindings.find_outside(key(proto, dst, dport))
    }

    /// Removes a binding, returning its port to its block and releasing the subscriber's
    /// blocks when it was the last.
    pub fn remove_binding(&mut self, idx: u32) -> Binding {
        let b = self.bindings.remove(idx);
        self.blocks
            .free_port(b.block, proto_index(b.proto), b.pub_port);
        let si = b.subscriber;
        let s = &mut self.subs[si as usize];
        s.bindings = s.bindings.saturating_sub(1);
        if s.bindings == 0 {
            self.release_subscriber(si);
        }
        b
    }

    /// Removes up to `budget` bindings whose timeout passed. Returns how many were removed.
    pub fn expire(&mut self, now_s: u32, budget: usize) -> usize {
        let mut removed = 0;
        for c in 0..CLASSES {
            let class = class_from(c);
            let to = self.params.timeouts.of(c);
            while removed < budget {
                let Some(idx) = self.bindings.oldest(class) else {
                    break;
                };
                if now_s.saturating_sub(self.bindings.get(idx).last_seen) < to {
                    break;
                }
                self.remove_binding(idx);
                removed += 1;
            }
        }
        removed
    }
}

fn class_from(c: usize) -> TimeoutClass {
    match c {
        0 => TimeoutClass::Udp,
        1 => TimeoutClass::TcpEstablished,
        2 => TimeoutClass::TcpTransitory,
        _ => TimeoutClass::Icmp,
    }
}

/// The class a new binding of `proto` starts in.
pub fn initial_class(proto: u8) -> TimeoutClass {
    match proto {
        PROTO_TCP => TimeoutClass::TcpEstablished,
        PROTO_ICMP => TimeoutClass::Icmp,
        _ => TimeoutClass::Udp,
    }
}
