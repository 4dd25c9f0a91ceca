//! Control-plane queries a worker answers between bursts: list bindings or sessions (filtered),
//! clear a subscriber, drain a public address, add public addresses to the pool.
//!
//! The control plane never reads a worker's tables. It hands the worker a [`Query`]; the poll
//! loop keeps a [`QueryCursor`] and calls [`Worker::query_step`] once per timer slot with a
//! budget of table slots, so a listing of a million bindings is spread over many iterations
//! and never stalls packet processing. Answers go to a caller-supplied sink that may refuse an
//! item (its bounded queue is full): the cursor then stays on that item and the walk resumes
//! at the next step, so a slow reader costs nothing but the reader's own time. Nothing here
//! allocates: answers are small `Copy` values.
//!
//! A walk sees the tables as they are at each step: entries created or removed while it runs
//! may or may not be listed (like any non-snapshot iteration), but every entry that exists for
//! the whole walk is listed exactly once.

use crate::bindings::{key, COOLING};
use crate::buf::PacketBuf;
use crate::nat::Filtering;
use crate::wire::ipv4::PROTO_TCP;
use crate::worker::{secs, Worker};

/// Which entries to list. Unset fields match everything; set ones are ANDed. Addresses are
/// host-order IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryFilter {
    /// Subscriber (inside) address.
    pub subscriber: Option<u32>,
    /// Public address.
    pub public: Option<u32>,
    /// Public port.
    pub public_port: Option<u16>,
    /// IP protocol number.
    pub proto: Option<u8>,
}

impl QueryFilter {
    fn matches(&self, proto: u8, sub: u32, public: u32, public_port: u16) -> bool {
        self.proto.is_none_or(|p| p == proto)
            && self.subscriber.is_none_or(|s| s == sub)
            && self.public.is_none_or(|a| a == public)
            && self.public_port.is_none_or(|p| p == public_port)
    }
}

/// What the control plane asks a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// List the bindings matching the filter.
    Bindings(QueryFilter),
    /// List the sessions matching the filter. Under endpoint-independent filtering UDP and
    /// ICMP bindings are their own session (no per-destination state) and are listed as a
    /// session with remote `0.0.0.0:0`.
    Sessions(QueryFilter),
    /// Delete every session and binding of a subscriber (host-order address).
    ClearSubscriber(u32),
    /// Stop (`on`) or resume giving new port blocks on a public address.
    Drain {
        /// The public address (host order).
        public: u32,
        /// Drain (`true`) or undrain.
        on: bool,
    },
    /// Add the public addresses `first..=last` (host order) to the pool (at most
    /// [`crate::nat::MAX_ADDED_AT_ONCE`]); addresses already there are skipped.
    AddPool {
        /// First address.
        first: u32,
        /// Last address.
        last: u32,
    },
}

/// One binding, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingInfo {
    /// IP protocol number.
    pub proto: u8,
    /// Subscriber address.
    pub subscriber: u32,
    /// Inside port (ICMP: identifier).
    pub inside_port: u16,
    /// Public address.
    pub public: u32,
    /// Public port.
    pub public_port: u16,
    /// Sessions under it.
    pub sessions: u32,
    /// Seconds since its last packet.
    pub idle_s: u32,
    /// Seconds before it expires (if no session keeps it).
    pub expires_in_s: u32,
}

/// One session, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The binding it belongs to.
    pub binding: BindingInfo,
    /// Remote address (0 when the binding is the session).
    pub remote: u32,
    /// Remote port (0 for ICMP, address-dependent entries, and bindings that are sessions).
    pub remote_port: u16,
    /// TCP flags seen (`session::tcp`), 0 for other protocols.
    pub tcp_flags: u8,
    /// Seconds since its last packet.
    pub idle_s: u32,
    /// Seconds before it expires.
    pub expires_in_s: u32,
}

/// One answer item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryItem {
    /// A binding ([`Query::Bindings`]).
    Binding(BindingInfo),
    /// A session ([`Query::Sessions`]).
    Session(SessionInfo),
    /// Sessions removed ([`Query::ClearSubscriber`]): session records plus bindings that are
    /// their own session; and bindings removed.
    Cleared {
        /// Sessions removed.
        sessions: u64,
        /// Bindings removed.
        bindings: u64,
    },
    /// [`Query::Drain`] done; `false` when the address is not in this worker's pool.
    Drained(bool),
    /// [`Query::AddPool`] done: how many addresses were new, or why nothing was added.
    PoolAdded(Result<u32, crate::port_block::AddError>),
    /// The query is complete: always the last item.
    Done,
}

/// Whether a query has more to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Call [`Worker::query_step`] again.
    More,
    /// Finished: [`QueryItem::Done`] was accepted.
    Done,
}

/// A query in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryCursor {
    query: Query,
    /// 0: main walk (sessions for a clear), 1: bindings walk of a clear, 2: report, 3: done.
    phase: u8,
    pos: u32,
    sessions: u64,
    bindings: u64,
    /// The outcome of [`Query::AddPool`], kept until it is accepted.
    pool_added: Result<u32, crate::port_block::AddError>,
}

impl QueryCursor {
    /// A cursor at the start of `query`.
    pub fn new(query: Query) -> Self {
        Self {
            query,
            phase: 0,
            pos: 0,
            sessions: 0,
            bindings: 0,
            pool_added: Ok(0),
        }
    }

    /// The query.
    pub fn query(&self) -> Query {
        self.query
    }
}

impl<B: PacketBuf> Worker<B> {
    fn binding_live(&self, idx: u32) -> bool {
        let t = &self.nat.bindings;
        let b = t.get(idx);
        t.class(idx) != COOLING && t.find_inside(key(b.proto, b.sub_ip, b.in_port)) == Some(idx)
    }

    fn session_live(&self, idx: u32) -> bool {
        let s = self.nat.sessions.get(idx);
        self.nat
            .sessions
            .find(s.binding, s.remote_ip, s.remote_port)
            == Some(idx)
    }

    fn binding_info(&self, idx: u32, now_s: u32) -> BindingInfo {
        let t = &self.nat.bindings;
        let b = t.get(idx);
        let idle = now_s.saturating_sub(b.stamp);
        BindingInfo {
            proto: b.proto,
            subscriber: b.sub_ip,
            inside_port: b.in_port,
            public: b.pub_ip,
            public_port: b.pub_port,
            sessions: b.sessions,
            idle_s: idle,
            expires_in_s: self
                .nat
                .params()
                .timeouts
                .secs(t.class(idx))
                .saturating_sub(idle),
        }
    }

    /// Whether a binding of `proto` is its own session (no per-destination state).
    fn binding_is_session(&self, proto: u8) -> bool {
        proto != PROTO_TCP && self.nat.params().filtering == Filtering::EndpointIndependent
    }

    /// Advances `cur` by at most `budget` table slots, handing answers to `emit`, which
    /// returns `false` when it cannot take one now (the step then stops and the next one
    /// resumes with that item). `now_ns` is the worker clock.
    pub fn query_step(
        &mut self,
        cur: &mut QueryCursor,
        now_ns: u64,
        budget: u32,
        mut emit: impl FnMut(QueryItem) -> bool,
    ) -> Progress {
        let now_s = secs(now_ns);
        match cur.query {
            Query::Bindings(f) => {
                if cur.phase == 0 {
                    let cap = self.nat.bindings.capacity();
                    let end = cur.pos.saturating_add(budget).min(cap);
                    while cur.pos < end {
                        let idx = cur.pos;
                        if self.binding_live(idx) {
                            let b = self.nat.bindings.get(idx);
                            if f.matches(b.proto, b.sub_ip, b.pub_ip, b.pub_port)
                                && !emit(QueryItem::Binding(self.binding_info(idx, now_s)))
                            {
                                return Progress::More;
                            }
                        }
                        cur.pos += 1;
                    }
                    if cur.pos < cap {
                        return Progress::More;
                    }
                    cur.phase = 2;
                }
            }
            Query::Sessions(f) => {
                if cur.phase == 0 {
                    // Session records.
                    let cap = self.nat.sessions.capacity();
                    let end = cur.pos.saturating_add(budget).min(cap);
                    while cur.pos < end {
                        let idx = cur.pos;
                        if self.session_live(idx) {
                            let s = *self.nat.sessions.get(idx);
                            let b = *self.nat.bindings.get(s.binding);
                            if f.matches(b.proto, b.sub_ip, b.pub_ip, b.pub_port) {
                                let idle = now_s.saturating_sub(s.stamp);
                                let to = self.nat.params().timeouts.secs(s.class);
                                let item = SessionInfo {
                                    binding: self.binding_info(s.binding, now_s),
                                    remote: s.remote_ip,
                                    remote_port: s.remote_port,
                                    tcp_flags: s.tcp,
                                    idle_s: idle,
                                    expires_in_s: to.saturating_sub(idle),
                                };
                                if !emit(QueryItem::Session(item)) {
                                    return Progress::More;
                                }
                            }
                        }
                        cur.pos += 1;
                    }
                    if cur.pos < cap {
                        return Progress::More;
                    }
                    cur.phase = 1;
                    cur.pos = 0;
                    return Progress::More;
                }
                if cur.phase == 1 {
                    // Bindings that are their own session.
                    let cap = self.nat.bindings.capacity();
                    let end = cur.pos.saturating_add(budget).min(cap);
                    while cur.pos < end {
                        let idx = cur.pos;
                        if self.binding_live(idx) {
                            let b = *self.nat.bindings.get(idx);
                            if self.binding_is_session(b.proto)
                                && f.matches(b.proto, b.sub_ip, b.pub_ip, b.pub_port)
                            {
                                let bi = self.binding_info(idx, now_s);
                                let item = SessionInfo {
                                    binding: bi,
                                    remote: 0,
                                    remote_port: 0,
                                    tcp_flags: 0,
                                    idle_s: bi.idle_s,
                                    expires_in_s: bi.expires_in_s,
                                };
                                if !emit(QueryItem::Session(item)) {
                                    return Progress::More;
                                }
                            }
                        }
                        cur.pos += 1;
                    }
                    if cur.pos < cap {
                        return Progress::More;
                    }
                    cur.phase = 2;
                }
            }
            Query::ClearSubscriber(sub) => {
                if cur.phase == 0 {
                    let cap = self.nat.sessions.capacity();
                    let end = cur.pos.saturating_add(budget).min(cap);
                    while cur.pos < end {
                        let idx = cur.pos;
                        if self.session_live(idx) {
                            let s = *self.nat.sessions.get(idx);
                            if self.nat.bindings.get(s.binding).sub_ip == sub {
                                self.nat.remove_session(idx, now_s);
                                cur.sessions += 1;
                            }
                        }
                        cur.pos += 1;
                    }
                    if cur.pos < cap {
                        return Progress::More;
                    }
                    cur.phase = 1;
                    cur.pos = 0;
                    return Progress::More;
                }
                if cur.phase == 1 {
                    let cap = self.nat.bindings.capacity();
                    let end = cur.pos.saturating_add(budget).min(cap);
                    while cur.pos < end {
                        let idx = cur.pos;
                        if self.binding_live(idx) {
                            let b = *self.nat.bindings.get(idx);
                            // A binding that gained a session since the first pass (new
                            // traffic during the clear) is left alone.
                            if b.sub_ip == sub && b.sessions == 0 {
                                self.nat.remove_binding(idx, now_s);
                                cur.bindings += 1;
                                if self.binding_is_session(b.proto) {
                                    cur.sessions += 1;
                                }
                            }
                        }
                        cur.pos += 1;
                    }
                    if cur.pos < cap {
                        return Progress::More;
                    }
                    cur.phase = 2;
                }
                if cur.phase == 2 {
                    if !emit(QueryItem::Cleared {
                        sessions: cur.sessions,
                        bindings: cur.bindings,
                    }) {
                        return Progress::More;
                    }
                    cur.phase = 3;
                }
            }
            Query::Drain { public, on } => {
                if cur.phase == 0 {
                    let ok = self.nat.set_drained(public, on);
                    // Applied once; only the answer is retried.
                    cur.phase = 1;
                    cur.sessions = u64::from(ok);
                }
                if cur.phase == 1 {
                    if !emit(QueryItem::Drained(cur.sessions == 1)) {
                        return Progress::More;
                    }
                    cur.phase = 3;
                }
            }
            Query::AddPool { first, last } => {
                if cur.phase == 0 {
                    cur.pool_added = self.nat.add_pool_range(first, last);
                    // Applied once; only the answer is retried.
                    cur.phase = 1;
                }
                if cur.phase == 1 {
                    if !emit(QueryItem::PoolAdded(cur.pool_added)) {
                        return Progress::More;
                    }
                    cur.phase = 3;
                }
            }
        }
        if !emit(QueryItem::Done) {
            return Progress::More;
        }
        cur.phase = 3;
        Progress::Done
    }
}
