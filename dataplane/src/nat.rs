//! NAT44 state of one worker: subscribers, their port blocks, bindings, sessions, hold-down
//! and expiry.
//!
//! A subscriber's blocks are all on one public address (paired pooling, RFC 6888 REQ-2,
//! RFC 4787 REQ-2). In dynamic mode the address is chosen when the subscriber gets its first
//! block: a hash of the subscriber address picks a starting pool address, then the first
//! address with a free block owned by this worker wins. In deterministic mode (RFC 7422) the
//! address and the port range follow from the subscriber address by formula.
//!
//! A freed public port is not reused for `hold_down_secs` (RFC 6888 REQ-8): it goes on a FIFO
//! and stays marked in its block's bitmap until the FIFO releases it; a block whose last port
//! is released goes back to the pool (so it too has been unused for the hold-down). A
//! subscriber record lives while it has bindings or blocks, so a returning subscriber gets its
//! old public address back.

use crate::bindings::{key, Binding, BindingTable, COOLING};
use crate::counters::DropReason;
use crate::deterministic::DeterministicMap;
use crate::events::{EventQueue, SessionLog, WorkerEvent};
use crate::index::{hash64, Index};
use crate::port_block::{AddError, AllocError, BlockParams, LocalBlock, PortBlocks};
use crate::session::{Session, SessionTable};
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};

pub use crate::timeouts::Timeouts;

mod reserve;

/// Most blocks one subscriber can hold (per-record inline storage).
pub const MAX_BLOCKS_PER_SUBSCRIBER: usize = 32;

/// Most public addresses one live addition may bring (a /16).
pub const MAX_ADDED_AT_ONCE: u32 = 1 << 16;

const NONE: u32 = u32::MAX;

/// Inbound filtering behaviour (RFC 4787 REQ-8, RFC 5382 REQ-3, RFC 6888 REQ-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filtering {
    /// Any remote may use a binding (default; RFC 6888 REQ-7).
    #[default]
    EndpointIndependent,
    /// Only remote addresses the subscriber has sent to.
    AddressDependent,
    /// Only remote address-and-port pairs the subscriber has sent to.
    AddressAndPortDependent,
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
    /// Session table capacity.
    pub max_sessions: u32,
    /// Subscriber table capacity.
    pub max_subscribers: u32,
    /// Bindings plus sessions one subscriber may hold (RFC 6888 REQ-5).
    pub max_sessions_per_subscriber: u32,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Filtering.
    pub filtering: Filtering,
    /// Keep the inside port's parity (RFC 4787 REQ-4).
    pub preserve_parity: bool,
    /// Seconds a freed port or block is held before reuse (RFC 6888 REQ-8).
    pub hold_down_secs: u32,
    /// Deterministic mode (RFC 7422) when set.
    pub deterministic: Option<DeterministicMap>,
    /// Per-session logging.
    pub session_log: SessionLogPolicy,
}

/// Which sessions are reported to the control plane for logging (natEvent 4/5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionLogPolicy {
    /// Per-session logging on.
    pub enabled: bool,
    /// Only subscribers in these prefixes (network, length); empty: every subscriber.
    pub prefixes: Vec<(u32, u8)>,
    /// Include the remote endpoint (RFC 6888 REQ-12: off unless the operator wants it).
    pub destinations: bool,
}

impl SessionLogPolicy {
    /// Whether sessions of subscriber `a` are logged.
    #[inline]
    pub fn covers(&self, a: u32) -> bool {
        self.enabled
            && (self.prefixes.is_empty()
                || self
                    .prefixes
                    .iter()
                    .any(|&(n, l)| crate::config::prefix_contains(n, l, a)))
    }
}

#[derive(Debug, Clone, Copy)]
struct Subscriber {
    ip: u32,
    addr_idx: u32,
    n_blocks: u8,
    bindings: u32,
    sessions: u32,
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
    /// The session table.
    pub sessions: SessionTable,
    blocks: PortBlocks,
    subs: Vec<Subscriber>,
    sub_free: Vec<u32>,
    sub_index: Index,
    rng: u64,
    /// Port-block and exhaustion events for the control plane, drained by the poll loop.
    pub events: EventQueue,
    /// `[protocol index][0: bindings, 1: sessions]` held now (see [`proto_index`]).
    by_proto: [[u32; 2]; 3],
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

/// What expiry reclaimed in one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Sessions removed.
    pub sessions: u32,
    /// Bindings removed.
    pub bindings: u32,
    /// Ports released from hold-down.
    pub ports: u32,
    /// Blocks returned to the pool.
    pub blocks: u32,
}

impl NatState {
    /// Builds the state, preallocating every table.
    pub fn new(params: NatParams, seed: u64) -> Self {
        let ms = params.max_subscribers as usize;
        let mut blocks = params.blocks.clone();
        if let Some(d) = &params.deterministic {
            // One block per subscriber, exactly its port range.
            blocks.block_size = d.ports_per_subscriber();
            blocks.pool = d.pool().to_vec();
            let (lo, hi) = d.port_range();
            blocks.port_min = lo;
            blocks.port_max = hi;
        }
        Self {
            bindings: BindingTable::with_capacity(params.max_bindings),
            sessions: SessionTable::with_capacity(params.max_sessions),
            blocks: PortBlocks::new(blocks),
            subs: Vec::with_capacity(ms),
            sub_free: Vec::with_capacity(ms),
            sub_index: Index::with_capacity(params.max_subscribers),
            rng: seed | 1,
            events: EventQueue::new(4096),
            by_proto: [[0; 2]; 3],
            params,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &NatParams {
        &self.params
    }

    /// Whether `addr` is a pool address.
    #[inline]
    pub fn is_pool_address(&self, addr: u32) -> bool {
        self.blocks.addr_index(addr).is_some()
    }

    /// Subscribers with state on this worker.
    pub fn subscribers(&self) -> usize {
        self.sub_index.len() as usize
    }

    /// Blocks allocated on this worker.
    pub fn blocks_allocated(&self) -> u32 {
        self.blocks.allocated()
    }

    /// Bindings and sessions held now, by protocol: `[tcp, udp, icmp]`, each
    /// `[bindings, sessions]` (kept on every insert and removal; no table walk).
    pub fn counts_by_protocol(&self) -> [[u32; 2]; 3] {
        self.by_proto
    }

    /// Stops (`on`) or resumes giving new port blocks on public address `addr`; blocks held
    /// there stay until they age out. Returns whether `addr` is a pool address.
    pub fn set_drained(&mut self, addr: u32, on: bool) -> bool {
        self.blocks.set_drained(addr, on)
    }

    /// Adds the public addresses `first..=last` to this worker's pool while it runs (see
    /// [`PortBlocks::add_addresses`]): new subscribers and subscribers needing a first block
    /// can get blocks there at once; nothing held changes. Returns how many were new.
    pub fn add_pool_range(&mut self, first: u32, last: u32) -> Result<u32, AddError> {
        if self.params.deterministic.is_some() {
            return Err(AddError::Deterministic);
        }
        if last < first || last - first >= MAX_ADDED_AT_ONCE {
            return Err(AddError::TooMany);
        }
        let addrs: Vec<u32> = (first..=last).collect();
        self.blocks.add_addresses(&addrs)
    }

    /// Ports waiting out their hold-down.
    pub fn ports_cooling(&self) -> usize {
        self.bindings.cooling() as usize
    }

    /// The port-block allocator (read-only).
    pub fn port_blocks(&self) -> &PortBlocks {
        &self.blocks
    }

    /// Bytes of preallocated state (bindings, sessions, subscribers, hold-down FIFO).
    pub fn memory(&self) -> usize {
        self.bindings.memory()
            + self.sessions.memory()
            + self.subs.capacity() * std::mem::size_of::<Subscriber>()
            + self.sub_index.memory()
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

    fn find_subscriber(&self, ip: u32) -> Option<u32> {
        self.sub_index
            .find(hash64(u64::from(ip)), |i| self.subs[i as usize].ip == ip)
    }

    /// Finds the binding for an outbound packet or creates one in `class`.
    pub fn map_outbound(
        &mut self,
        proto: u8,
        src: u32,
        sport: u16,
        now_s: u32,
        class: u8,
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
        let (si, new_subscriber) = match self.find_subscriber(src) {
            Some(i) => (i, false),
            None => (self.new_subscriber(src)?, true),
        };
        let s = self.subs[si as usize];
        if s.bindings + s.sessions >= self.params.max_sessions_per_subscriber {
            return Err(DropReason::SessionLimit);
        }
        let pi = proto_index(proto);
        let odd = (self.params.preserve_parity && proto != crate::wire::ipv4::PROTO_ICMP)
            .then_some(sport & 1 == 1);
        let rnd = self.next_random();
        let start = u32::try_from(rnd & 0xffff_ffff).unwrap_or(0);
        let mut found = None;
        let n = usize::from(s.n_blocks);
        let first = usize::try_from(rnd >> 40).unwrap_or(0);
        // Try the blocks the subscriber already holds, starting at a random one.
        for k in 0..n {
            let lb = s.blocks[(k + first) % n];
            if let Some(p) = self.blocks.alloc_port_parity(lb, pi, start, odd) {
                found = Some((lb, p));
                break;
            }
        }
        let mut new_block = false;
        if found.is_none() {
            match self.grow_subscriber(si) {
                Ok(lb) => {
                    new_block = true;
                    let (public, port_start, port_end) = self.block_span(lb);
                    self.events.push(WorkerEvent::BlockAllocated {
                        subscriber: src,
                        public,
                        port_start,
                        port_end,
                        at_s: now_s,
                    });
                    found = self
                        .blocks
                        .alloc_port_parity(lb, pi, start, odd)
                        .map(|p| (lb, p));
                }
                Err(e) => {
                    self.maybe_release_subscriber(si);
                    return Err(e);
                }
            }
        }
        let Some((lb, pub_port)) = found else {
            self.maybe_release_subscriber(si);
            return Err(DropReason::PortExhausted);
        };
        let pub_ip = self.blocks.address(self.blocks.block_addr_index(lb));
        let b = Binding::new(src, sport, pub_ip, pub_port, proto, si, lb);
        let Some(idx) = self.bindings.insert(b, class, now_s) else {
            self.blocks.free_port(lb, pi, pub_port);
            return Err(DropReason::BindingTableFull);
        };
        self.subs[si as usize].bindings += 1;
        self.by_proto[pi][0] += 1;
        Ok(Mapped {
            idx,
            created: true,
            new_block,
            new_subscriber,
        })
    }

    fn new_subscriber(&mut self, ip: u32) -> Result<u32, DropReason> {
        if self.sub_index.len() >= self.params.max_subscribers {
            return Err(DropReason::SubscriberTableFull);
        }
        let rec = Subscriber {
            ip,
            addr_idx: NONE,
            n_blocks: 0,
            bindings: 0,
            sessions: 0,
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
        self.sub_index.insert(hash64(u64::from(ip)), si);
        Ok(si)
    }

    /// Drops the subscriber record when it holds nothing any more.
    fn maybe_release_subscriber(&mut self, si: u32) {
        let s = self.subs[si as usize];
        if s.bindings == 0 && s.sessions == 0 && s.n_blocks == 0 && s.ip != 0 {
            self.sub_index.remove(hash64(u64::from(s.ip)), si);
            self.subs[si as usize].ip = 0;
            self.sub_free.push(si);
        }
    }

    /// Gives the subscriber one more block on its public address (choosing the address for its
    /// first block).
    fn grow_subscriber(&mut self, si: u32) -> Result<LocalBlock, DropReason> {
        let s = self.subs[si as usize];
        if let Some(d) = &self.params.deterministic {
            if s.n_blocks > 0 {
                return Err(DropReason::PortExhausted);
            }
            let (pub_ip, first, _) = d.forward(s.ip).ok_or(DropReason::PoolExhausted)?;
            let ai = self
                .blocks
                .addr_index(pub_ip)
                .ok_or(DropReason::PoolExhausted)?;
            let (lo, _) = d.port_range();
            let n =
                u32::from(first.saturating_sub(lo)) / u32::from(d.ports_per_subscriber().max(1));
            let lb = self
                .blocks
                .alloc_block_at(ai, n, si)
                .map_err(|_| DropReason::PoolExhausted)?;
            let sm = &mut self.subs[si as usize];
            sm.addr_idx = ai;
            sm.blocks[0] = lb;
            sm.n_blocks = 1;
            return Ok(lb);
        }
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
            let start = usize::try_from(u64::from(s.ip).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40)
                .unwrap_or(0)
                % n;
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

    /// (public address, first port, last port) of a local block.
    pub fn block_span(&self, lb: LocalBlock) -> (u32, u16, u16) {
        let first = self.blocks.first_port(lb);
        let last = first.saturating_add(self.blocks.block_size().saturating_sub(1));
        (
            self.blocks.address(self.blocks.block_addr_index(lb)),
            first,
            last,
        )
    }

    /// Every block this worker holds for a subscriber, as (subscriber, public address, first
    /// port, last port). Dynamic pools only (deterministic blocks are a formula, never logged).
    /// Walks every block the worker owns: for shutdown, not for the packet path.
    pub fn allocated_blocks(&self, mut f: impl FnMut(u32, u32, u16, u16)) {
        if self.params.deterministic.is_some() {
            return;
        }
        for lb in 0..self.blocks.local_blocks() {
            if let Some(si) = self.blocks.owner(lb) {
                let (public, first, last) = self.block_span(lb);
                if let Some(s) = self.subs.get(si as usize) {
                    f(s.ip, public, first, last);
                }
            }
        }
    }

    /// Finds the binding for an inbound packet.
    #[inline]
    pub fn map_inbound(&self, proto: u8, dst: u32, dport: u16) -> Option<u32> {
        self.bindings.find_outside(key(proto, dst, dport))
    }

    /// Opens a session under binding `b` (checking the subscriber's limit).
    pub fn open_session(
        &mut self,
        b: u32,
        remote_ip: u32,
        remote_port: u16,
        tcp: u8,
        class: u8,
        now_s: u32,
    ) -> Result<u32, DropReason> {
        let si = self.bindings.get(b).subscriber;
        let s = self.subs[si as usize];
        if s.bindings + s.sessions >= self.params.max_sessions_per_subscriber {
            return Err(DropReason::SessionLimit);
        }
        let idx = self
            .sessions
            .insert(
                Session {
                    binding: b,
                    remote_ip,
                    remote_port,
                    tcp,
                    class: 0,
                    stamp: 0,
                },
                class,
                now_s,
            )
            .ok_or(DropReason::SessionTableFull)?;
        self.bindings.get_mut(b).sessions += 1;
        self.subs[si as usize].sessions += 1;
        let bd = *self.bindings.get(b);
        self.by_proto[proto_index(bd.proto)][1] += 1;
        if self.params.session_log.covers(bd.sub_ip) {
            let s = self.session_log(&bd, Some((remote_ip, remote_port)));
            self.events
                .push(WorkerEvent::SessionCreated { s, at_s: now_s });
        }
        Ok(idx)
    }

    fn session_log(&self, b: &Binding, dest: Option<(u32, u16)>) -> SessionLog {
        SessionLog {
            proto: b.proto,
            subscriber: b.sub_ip,
            sub_port: b.in_port,
            public: b.pub_ip,
            pub_port: b.pub_port,
            dest: dest.filter(|_| self.params.session_log.destinations),
        }
    }

    /// Whether a binding of `proto` is itself the logged session: UDP and ICMP under
    /// endpoint-independent filtering keep no per-destination sessions.
    fn binding_is_session(&self, proto: u8) -> bool {
        proto != PROTO_TCP && self.params.filtering == Filtering::EndpointIndependent
    }

    /// Switches the live parameters (see `live.rs`): timeouts, the per-subscriber limit and the
    /// session logging policy.
    pub(crate) fn set_live(
        &mut self,
        timeouts: &Timeouts,
        max_sessions_per_subscriber: u32,
        session_log: &SessionLogPolicy,
    ) {
        self.params.timeouts.clone_from(timeouts);
        self.params.max_sessions_per_subscriber = max_sessions_per_subscriber;
        self.params.session_log.clone_from(session_log);
    }

    /// Reports the creation of binding `idx` (made for a packet to `dest`) as a session, when
    /// the binding is the session and the subscriber's sessions are logged.
    pub fn log_binding_created(&mut self, idx: u32, dest: (u32, u16), now_s: u32) {
        let b = *self.bindings.get(idx);
        if self.binding_is_session(b.proto) && self.params.session_log.covers(b.sub_ip) {
            let s = self.session_log(&b, Some(dest));
            self.events
                .push(WorkerEvent::SessionCreated { s, at_s: now_s });
        }
    }

    /// Removes a session.
    pub fn remove_session(&mut self, idx: u32, now_s: u32) -> Session {
        let s = self.sessions.remove(idx);
        let bd = *self.bindings.get(s.binding);
        let c = &mut self.by_proto[proto_index(bd.proto)][1];
        *c = c.saturating_sub(1);
        if self.params.session_log.covers(bd.sub_ip) {
            let l = self.session_log(&bd, Some((s.remote_ip, s.remote_port)));
            self.events
                .push(WorkerEvent::SessionDeleted { s: l, at_s: now_s });
        }
        let b = self.bindings.get_mut(s.binding);
        b.sessions = b.sessions.saturating_sub(1);
        let si = b.subscriber;
        let sub = &mut self.subs[si as usize];
        sub.sessions = sub.sessions.saturating_sub(1);
        s
    }

    /// Removes a binding (which must have no sessions), putting its port on hold-down and
    /// releasing the subscriber record if it holds nothing else.
    pub fn remove_binding(&mut self, idx: u32, now_s: u32) -> Binding {
        let cool = self.params.hold_down_secs > 0;
        let b = self.bindings.remove(idx, cool, now_s);
        let c = &mut self.by_proto[proto_index(b.proto)][0];
        *c = c.saturating_sub(1);
        if self.binding_is_session(b.proto) && self.params.session_log.covers(b.sub_ip) {
            // The destination is not kept (no per-destination state): none is logged.
            let s = self.session_log(&b, None);
            self.events
                .push(WorkerEvent::SessionDeleted { s, at_s: now_s });
        }
        if !cool {
            self.release_port(b.block, b.proto, b.pub_port, now_s);
        }
        let s = &mut self.subs[b.subscriber as usize];
        s.bindings = s.bindings.saturating_sub(1);
        self.maybe_release_subscriber(b.subscriber);
        b
    }

    /// Returns a port to its block; a block with no ports left returns to the pool.
    fn release_port(&mut self, lb: LocalBlock, proto: u8, port: u16, now_s: u32) -> bool {
        if self.blocks.free_port(lb, proto_index(proto), port) > 0 {
            return false;
        }
        let Some(si) = self.blocks.owner(lb) else {
            return false;
        };
        let (public, port_start, port_end) = self.block_span(lb);
        self.blocks.free_block(lb);
        self.events.push(WorkerEvent::BlockReleased {
            subscriber: self.subs[si as usize].ip,
            public,
            port_start,
            port_end,
            at_s: now_s,
        });
        let s = &mut self.subs[si as usize];
        let n = usize::from(s.n_blocks);
        if let Some(pos) = s.blocks[..n].iter().position(|&x| x == lb) {
            s.blocks.copy_within(pos + 1..n, pos);
            s.n_blocks -= 1;
        }
        self.maybe_release_subscriber(si);
        true
    }

    /// Reclaims expired sessions and bindings and ports whose hold-down passed: at most
    /// `budget` of each kind per call. Stamps are whole seconds (the floor of the refresh
    /// time), so an entry is kept while `now_s - stamp <= timeout`: it lives at least the full
    /// timeout and at most one second longer, never less (RFC 5382 REQ-5's minimums).
    pub fn expire(&mut self, now_s: u32, budget: u32) -> Expired {
        let mut e = Expired::default();
        let classes = self.params.timeouts.classes();
        for c in 0..classes {
            let to = self.params.timeouts.secs(c);
            while e.sessions < budget {
                let Some((idx, stamp)) = self.sessions.oldest(c) else {
                    break;
                };
                if now_s.saturating_sub(stamp) <= to {
                    break;
                }
                self.remove_session(idx, now_s);
                e.sessions += 1;
            }
        }
        for c in 0..classes {
            let to = self.params.timeouts.secs(c);
            let mut visited = 0;
            while e.bindings < budget && visited < budget {
                visited += 1;
                let Some((idx, stamp)) = self.bindings.oldest(c) else {
                    break;
                };
                if now_s.saturating_sub(stamp) <= to {
                    break;
                }
                if self.bindings.get(idx).sessions > 0 {
                    // Kept alive by its sessions; look again one timeout later.
                    self.bindings.touch(idx, c, now_s);
                    continue;
                }
                self.remove_binding(idx, now_s);
                e.bindings += 1;
            }
        }
        let hold = self.params.hold_down_secs;
        while e.ports < budget {
            let Some((idx, freed_at)) = self.bindings.oldest(COOLING) else {
                break;
            };
            if now_s.saturating_sub(freed_at) <= hold {
                break;
            }
            let c = self.bindings.release_cooling(idx);
            e.ports += 1;
            if self.release_port(c.block, c.proto, c.pub_port, now_s) {
                e.blocks += 1;
            }
        }
        e
    }
}
