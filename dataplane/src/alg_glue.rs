//! The ALG framework's dataplane half: selecting an ALG per session, running the `alg` crate's
//! parsers on payloads where they lie, applying their edits in the buffer, correcting TCP
//! sequence numbers, installing and matching expectations (`docs/alg.md`, "Wiring").
//!
//! * **Selection**: by (protocol, server port) from [`AlgConfig`]: FTP on the TCP ports of
//!   `ftp`, TFTP on the UDP ports of `tftp`, H.323 on the TCP ports of `h323` and the UDP
//!   ports of `h323_ras` (its wiring, and its H.245 child sessions, are in [`h323`]). An FTP control session gets its ALG state
//!   ([`AlgSession`]: line tracking and two [`SeqHistory`]s) when the subscriber's SYN is
//!   translated; a session first seen mid-stream gets none. Switching an ALG off (live) stops
//!   new sessions from getting it and stops parsing; sessions already corrected keep their
//!   sequence correction, so switching off never breaks a connection in flight.
//! * **Edits** are applied in the buffer: the payload is copied to a preallocated scratch
//!   area and rewritten back with [`alg::apply_edits`], moving the tail within the buffer's
//!   tailroom; the IP total length, IP checksum and TCP checksum are updated incrementally
//!   (RFC 1624; the payload from the first edit on is summed before and after). An edit that
//!   does not fit the tailroom or the next link's MTU is not applied: the segment passes
//!   unmodified, nothing of that segment's rewrite is kept, and `alg_ftp_no_room` counts it.
//! * **Sequence correction**: every segment of a corrected session gets its SEQ mapped by its
//!   direction's history and its ACK and SACK blocks unmapped by the other's, so later
//!   segments, retransmissions and acknowledgements across several corrections stay right.
//! * **Expectations** ([`crate::expectations`]): limited per master (oldest evicted) and in
//!   total (oldest evicted), timed out, counted when created (`alg_*_expectations`), used,
//!   expired, evicted and refused (a first packet to an expected public endpoint from another
//!   host). The public port an FTP client's announcement gets is reserved from the
//!   subscriber's own blocks, so the data connection is steered to this worker; the binding
//!   is created only when the expected host connects (no pinhole for anyone else).
//!
//! RTSP (TCP, `[alg.rtsp]`) uses the same framework from its own file, `alg_rtsp.rs` (a child
//! module: its per-connection state, the even/odd public port pair, session-tagged
//! expectations).
//! PPTP (TCP control, `[alg.pptp]`) does too, from `alg_glue/pptp.rs`: the public Call ID
//! reserved like a port, and the GRE v1 packets of its calls translated by Call ID
//! (`alg_glue/gre.rs`, called from the worker for IP protocol 47).
//!
//! SIP (UDP and TCP, `[alg.sip]`) likewise lives in `alg_glue/sip.rs` (its masters, one per subscriber
//! endpoint and peer, the media port pairs, the registration's expectation).
//!
//! Not inspected: hairpinned packets and fragments (the payload is incomplete), TCP segments
//! of sessions picked up mid-stream.

use crate::bindings::key;
use crate::buf::PacketBuf;
use crate::checksum;
use crate::counters::{DropReason, Event};
use crate::expectations::{AlgKind, Expect, ExpectTable, NONE};
use crate::index::{hash64, Index};
use crate::nat::Filtering;
use crate::session::tcp as tcpf;
use crate::timeouts;
use crate::translate::Flow;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::l4::tcp_flags;
use crate::worker::{secs, Worker, ETH};
use alg::ftp::{self, FtpOutcome, FtpSegment, FtpSender, FtpState};
use alg::h323::{H323Channel, TpktTracker};
use alg::{SeqHistory, Side as AlgSide};
use core::net::{Ipv4Addr, SocketAddrV4};

mod gre;
mod h323;
mod pptp;
mod sip;
pub use alg::rtsp::DestinationPolicy as RtspDestinationPolicy;
use sip::SipSessions;

#[path = "alg_rtsp.rs"]
mod alg_rtsp;
use alg_rtsp::RtspSessions;

/// Most server ports one ALG may be selected by.
pub const MAX_ALG_PORTS: usize = 16;
/// Most expectations one master session may have (the configurable limit's ceiling).
pub const MAX_EXPECTATIONS_PER_SESSION: u8 = 8;
/// Rewrites (and expectations) one segment may produce.
const EDITS: usize = 4;
/// ALG session slots checked for a vanished TCP session per poll.
const SWEEP_PER_POLL: u32 = 32;

/// One ALG's switch and the server ports that select it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgPorts {
    /// Whether new sessions get the ALG.
    pub enabled: bool,
    ports: [u16; MAX_ALG_PORTS],
    len: u8,
}

impl AlgPorts {
    /// The ALG on or off for `ports` (at most [`MAX_ALG_PORTS`]; more are ignored).
    pub fn new(enabled: bool, ports: &[u16]) -> Self {
        let mut a = Self {
            enabled,
            ports: [0; MAX_ALG_PORTS],
            len: 0,
        };
        for (slot, p) in a.ports.iter_mut().zip(ports) {
            *slot = *p;
            a.len += 1;
        }
        a
    }

    /// The configured ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports[..usize::from(self.len)]
    }

    /// Whether `port` is one of the ALG's server ports (on or off).
    #[inline]
    pub fn has(&self, port: u16) -> bool {
        self.ports().contains(&port)
    }

    /// Whether a new flow to server port `port` gets the ALG.
    #[inline]
    pub fn selects(&self, port: u16) -> bool {
        self.enabled && self.has(port)
    }
}

/// ALG settings of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgConfig {
    /// FTP (TCP). Live.
    pub ftp: AlgPorts,
    /// TFTP (UDP). Live.
    pub tftp: AlgPorts,
    /// H.323 call signalling (TCP, Q.931/H.225.0). Live.
    pub h323: AlgPorts,
    /// H.323 RAS (UDP). Live; normally switched with [`AlgConfig::h323`].
    pub h323_ras: AlgPorts,
    /// RTSP (TCP). Live.
    pub rtsp: AlgPorts,
    /// RTSP: what to do with a `destination=` naming a third host. Live.
    pub rtsp_destination: alg::rtsp::DestinationPolicy,
    /// SIP (UDP and TCP). Live.
    pub sip: AlgPorts,
    /// SIP: expectations (media and registration) one subscriber may have waiting. Live.
    pub sip_max_expectations_per_subscriber: u16,
    /// SIP: the longest a registration's inbound expectation lives (its Expires, capped by
    /// this). Live.
    pub sip_register_max_secs: u32,
    /// Expectations a worker holds at once (table size; restart).
    pub max_expectations: u32,
    /// ALG control sessions (FTP) a worker tracks at once (table size; restart).
    pub max_sessions: u32,
    /// Expectations one master session may have; the oldest is evicted beyond. Live, 1..=8.
    pub max_expectations_per_session: u8,
    /// Seconds an expectation waits for its child. Live.
    pub expectation_timeout_secs: u32,
    /// PPTP control (TCP; its calls' GRE is translated by Call ID). Live.
    pub pptp: AlgPorts,
    /// Seconds a PPTP call's GRE translation lives without a packet. Live.
    pub pptp_gre_timeout_secs: u32,
}

impl Default for AlgConfig {
    fn default() -> Self {
        Self {
            ftp: AlgPorts::new(true, &[21]),
            // RFC 4787 REQ-10: ALGs for UDP protocols off by default.
            tftp: AlgPorts::new(false, &[69]),
            // Off by default like Linux's nf_conntrack_h323: its pinholes are mostly UDP
            // (RTP/RTCP, RAS), RFC 4787 REQ-10.
            h323: AlgPorts::new(false, &[alg::h323::Q931_PORT]),
            h323_ras: AlgPorts::new(false, &[alg::h323::RAS_PORT]),
            // RFC 4787 REQ-10 too: RTSP's pinholes (RTP, RTCP) are UDP.
            rtsp: AlgPorts::new(false, &[alg::rtsp::RTSP_PORT]),
            rtsp_destination: alg::rtsp::DestinationPolicy::Refuse,
            // RFC 4787 REQ-10 too: SIP's pinholes (RTP, RTCP, the registered Contact) are
            // mostly UDP.
            sip: AlgPorts::new(false, &[alg::sip::SIP_PORT]),
            sip_max_expectations_per_subscriber: 16,
            sip_register_max_secs: 3600,
            max_expectations: 4096,
            max_sessions: 4096,
            max_expectations_per_session: 1,
            expectation_timeout_secs: 300,
            // Off by default like Linux's nf_conntrack_pptp (explicit helper assignment); its
            // pinholes are GRE (RFC 4787 REQ-10 reasoning).
            pptp: AlgPorts::new(false, &[alg::pptp::PPTP_PORT]),
            // The UDP default (RFC 4787 REQ-5: at least 120 s, 300 s recommended): GRE is a
            // datagram protocol; the call's end removes it earlier.
            pptp_gre_timeout_secs: 300,
        }
    }
}

/// Which ALG a TCP session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    /// FTP control.
    Ftp,
    /// H.323 call signalling or H.245; `child`: admitted by an expectation (not selected by
    /// a server port, so found only by the session lookup).
    H323 { channel: H323Channel, child: bool },
    /// RTSP control (its parser state lives in `alg_rtsp`'s slot table, same index).
    Rtsp,
    /// PPTP control (its parser state lives in `pptp`'s slot table, same index).
    Pptp,
    /// A SIP master (its parser state lives in `sip`'s slot table, same index); `tcp`: a
    /// TCP connection, else a UDP peer of the binding.
    Sip { tcp: bool },
}

/// ALG state of one FTP control, RTSP control or H.323 TCP session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AlgSession {
    binding: u32,
    remote_ip: u32,
    remote_port: u16,
    gen: u32,
    kind: SessionKind,
    ftp: FtpState,
    /// H.323 TPKT boundaries: [inside → outside, outside → inside].
    tpkt: [TpktTracker; 2],
    /// Sequence corrections: [inside → outside, outside → inside].
    hist: [SeqHistory; 2],
    expects: [u32; MAX_EXPECTATIONS_PER_SESSION as usize],
    n_expects: u8,
}

impl AlgSession {
    fn unexpect(&mut self, x: u32) {
        let n = usize::from(self.n_expects);
        if let Some(pos) = self.expects[..n].iter().position(|&e| e == x) {
            self.expects.copy_within(pos + 1..n, pos);
            self.n_expects -= 1;
        }
    }
}

#[inline]
fn akey(binding: u32, remote_ip: u32, remote_port: u16) -> u64 {
    hash64(
        (u64::from(remote_ip) << 16 | u64::from(remote_port))
            ^ u64::from(binding).wrapping_mul(0xd6e8_feb8_6659_fd93),
    )
}

/// The table of ALG sessions, keyed like the TCP session they belong to.
#[derive(Debug)]
pub(crate) struct AlgSessions {
    slots: Vec<Option<AlgSession>>,
    free: Vec<u32>,
    index: Index,
    next_gen: u32,
    cursor: u32,
    /// H.323 sessions admitted by an expectation (their ports select nothing): while any
    /// exists, every TCP packet is looked up.
    h323_children: u32,
    /// H.323 sessions (call signalling and H.245).
    h323_sessions: u32,
}

impl AlgSessions {
    fn with_capacity(cap: u32) -> Self {
        Self {
            slots: vec![None; cap as usize],
            free: (0..cap).rev().collect(),
            index: Index::with_capacity(cap),
            next_gen: 1,
            cursor: 0,
            h323_children: 0,
            h323_sessions: 0,
        }
    }

    fn len(&self) -> u32 {
        self.index.len()
    }

    fn find(&self, binding: u32, remote_ip: u32, remote_port: u16) -> Option<u32> {
        self.index.find(akey(binding, remote_ip, remote_port), |i| {
            self.get(i).is_some_and(|s| {
                s.binding == binding && s.remote_ip == remote_ip && s.remote_port == remote_port
            })
        })
    }

    fn get(&self, i: u32) -> Option<&AlgSession> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut AlgSession> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    /// The live session in slot `i` if it is still generation `gen`.
    fn master(&mut self, i: u32, gen: u32) -> Option<&mut AlgSession> {
        self.get_mut(i).filter(|s| s.gen == gen)
    }

    fn insert(
        &mut self,
        binding: u32,
        remote_ip: u32,
        remote_port: u16,
        kind: SessionKind,
    ) -> Option<u32> {
        let i = self.free.pop()?;
        let gen = self.next_gen;
        self.next_gen = self.next_gen.wrapping_add(1).max(1);
        self.slots[i as usize] = Some(AlgSession {
            binding,
            remote_ip,
            remote_port,
            gen,
            kind,
            ftp: FtpState::new(),
            tpkt: [TpktTracker::new(); 2],
            hist: [SeqHistory::new(); 2],
            expects: [NONE; MAX_EXPECTATIONS_PER_SESSION as usize],
            n_expects: 0,
        });
        self.index.insert(akey(binding, remote_ip, remote_port), i);
        if let SessionKind::H323 { child, .. } = kind {
            self.h323_sessions += 1;
            self.h323_children += u32::from(child);
        }
        Some(i)
    }

    fn remove(&mut self, i: u32) -> Option<AlgSession> {
        let s = self.slots.get_mut(i as usize)?.take()?;
        self.index
            .remove(akey(s.binding, s.remote_ip, s.remote_port), i);
        if let SessionKind::H323 { child, .. } = s.kind {
            self.h323_sessions -= 1;
            self.h323_children -= u32::from(child);
        }
        self.free.push(i);
        Some(s)
    }

    fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<AlgSession>>()
            + self.free.capacity() * 4
            + self.index.memory()
    }
}

/// A worker's ALG state: control sessions, expectations, and the scratch area edits are
/// applied from.
#[derive(Debug)]
pub(crate) struct AlgState {
    sessions: AlgSessions,
    expect: ExpectTable,
    scratch: Vec<u8>,
    rtsp: RtspSessions,
    pptp: pptp::PptpSessions,
    sip: SipSessions,
}

impl AlgState {
    pub(crate) fn new(c: &AlgConfig) -> Self {
        Self {
            sessions: AlgSessions::with_capacity(c.max_sessions),
            expect: ExpectTable::with_capacity(c.max_expectations),
            scratch: vec![0; usize::from(u16::MAX)],
            rtsp: RtspSessions::with_capacity(c.max_sessions),
            pptp: pptp::PptpSessions::with_capacity(c.max_sessions),
            sip: SipSessions::with_capacity(c.max_sessions, c.max_expectations),
        }
    }
}

/// Why an expectation left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    Used,
    Expired,
    Evicted,
}

fn refused_event(alg: AlgKind) -> Event {
    match alg {
        AlgKind::Ftp => Event::AlgFtpExpectationRefused,
        AlgKind::Tftp => Event::AlgTftpExpectationRefused,
        AlgKind::Rtsp => Event::AlgRtspExpectationRefused,
        AlgKind::Sip { .. } => Event::AlgSipExpectationRefused,
        AlgKind::H323(_) => Event::AlgH323ExpectationRefused,
    }
}

fn gone_event(alg: AlgKind, why: Gone) -> Event {
    match (alg, why) {
        (AlgKind::Ftp, Gone::Used) => Event::AlgFtpExpectationUsed,
        (AlgKind::Ftp, Gone::Expired) => Event::AlgFtpExpectationExpired,
        (AlgKind::Ftp, Gone::Evicted) => Event::AlgFtpExpectationEvicted,
        (AlgKind::Tftp, Gone::Used) => Event::AlgTftpExpectationUsed,
        (AlgKind::Tftp, Gone::Expired) => Event::AlgTftpExpectationExpired,
        (AlgKind::Tftp, Gone::Evicted) => Event::AlgTftpExpectationEvicted,
        (AlgKind::H323(_), Gone::Used) => Event::AlgH323ExpectationUsed,
        (AlgKind::H323(_), Gone::Expired) => Event::AlgH323ExpectationExpired,
        (AlgKind::H323(_), Gone::Evicted) => Event::AlgH323ExpectationEvicted,
        (AlgKind::Rtsp, Gone::Used) => Event::AlgRtspExpectationUsed,
        (AlgKind::Rtsp, Gone::Expired) => Event::AlgRtspExpectationExpired,
        (AlgKind::Rtsp, Gone::Evicted) => Event::AlgRtspExpectationEvicted,
        (AlgKind::Sip { .. }, Gone::Used) => Event::AlgSipExpectationUsed,
        (AlgKind::Sip { .. }, Gone::Expired) => Event::AlgSipExpectationExpired,
        (AlgKind::Sip { .. }, Gone::Evicted) => Event::AlgSipExpectationEvicted,
    }
}

/// The TCP header of a segment whose L4 bytes are `l4`: (header length, SEQ, ACK, flags), or
/// `None` when the segment is shorter than its header says (not inspected).
fn tcp_header(l4: &[u8]) -> Option<(usize, u32, u32, u8)> {
    if l4.len() < 20 {
        return None;
    }
    let hl = usize::from(l4[12] >> 4) * 4;
    if hl < 20 || hl > l4.len() {
        return None;
    }
    Some((hl, be32(l4, 4), be32(l4, 8), l4[13]))
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Unmaps the SACK blocks (RFC 2018, option kind 5) of the TCP header `tcp[..hl]` through
/// `h`; a block left empty is removed (the option shrinks, NOPs fill the gap). Returns the new
/// checksum.
fn fix_sack(tcp: &mut [u8], hl: usize, h: &SeqHistory, mut c: u16) -> u16 {
    let mut i = 20;
    let old_sum = checksum::sum(&tcp[20..hl], 0);
    let mut changed = false;
    while i < hl {
        match tcp[i] {
            0 => break,
            1 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        if i + 1 >= hl {
            break;
        }
        let len = usize::from(tcp[i + 1]);
        if len < 2 || i + len > hl {
            break;
        }
        if tcp[i] == 5 && len >= 10 && (len - 2) % 8 == 0 {
            let mut blocks = [(0u32, 0u32); 4];
            let mut n = 0;
            for k in 0..((len - 2) / 8).min(4) {
                let at = i + 2 + 8 * k;
                if let Some(b) = h.unmap_sack(be32(tcp, at), be32(tcp, at + 4)) {
                    blocks[n] = b;
                    n += 1;
                }
            }
            for (k, (l, r)) in blocks[..n].iter().enumerate() {
                put32(tcp, i + 2 + 8 * k, *l);
                put32(tcp, i + 6 + 8 * k, *r);
            }
            if n == 0 {
                tcp[i..i + len].fill(1);
            } else {
                tcp[i + 1] = u8::try_from(2 + 8 * n).unwrap_or(2);
                tcp[i + 2 + 8 * n..i + len].fill(1);
            }
            changed = true;
        }
        i += len;
    }
    if changed {
        let new_sum = checksum::sum(&tcp[20..hl], 0);
        c = checksum::update16(
            c,
            u16::try_from(old_sum).unwrap_or(0xffff),
            u16::try_from(new_sum).unwrap_or(0xffff),
        );
    }
    c
}

impl<B: PacketBuf> Worker<B> {
    /// ALG sessions (FTP control connections, H.323 call signalling and H.245 connections)
    /// tracked by this worker.
    pub fn alg_sessions(&self) -> u32 {
        self.alg.sessions.len()
    }

    /// The H.323 ones among [`Worker::alg_sessions`].
    pub fn alg_h323_sessions(&self) -> u32 {
        self.alg.sessions.h323_sessions
    }

    /// Expectations held by this worker.
    pub fn alg_expectations(&self) -> u32 {
        self.alg.expect.len()
    }

    /// Bytes of preallocated ALG state.
    pub fn alg_memory(&self) -> usize {
        self.alg.sessions.memory()
            + self.alg.expect.memory()
            + self.alg.scratch.capacity()
            + self.alg.rtsp.memory()
            + self.alg.pptp.memory()
            + self.alg.sip.memory()
    }

    /// Hook for a translated outbound (inside → outside) packet that is not hairpinned and
    /// not a fragment. `Err`: drop the packet (the ALG holds it, see `docs/alg.md`).
    pub(crate) fn alg_outbound(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        now: u64,
    ) -> Result<(), DropReason> {
        match f.proto {
            PROTO_TCP => {
                if self.alg.expect.outbound_len() > 0
                    && f.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN
                {
                    if let Some(x) = self
                        .alg
                        .expect
                        .find_outbound(PROTO_TCP, f.dst, f.dport, f.src)
                    {
                        let alg = self.alg.expect.get(x).map(|e| e.alg);
                        self.expectation_gone(x, Gone::Used, secs(now));
                        if let Some(AlgKind::H323(Some(channel))) = alg {
                            self.h323_child(bidx, f.dst, f.dport, channel);
                        }
                    }
                }
                if self.cfg.alg.ftp.has(f.dport) {
                    return self.ftp_segment(buf, f, bidx, true, now);
                }
                if self.cfg.alg.rtsp.has(f.dport) {
                    return self.rtsp_segment(buf, f, bidx, true, now);
                }
                if self.cfg.alg.pptp.has(f.dport) {
                    return self.pptp_segment(buf, f, bidx, true, now);
                }
                if self.cfg.alg.sip.has(f.dport) {
                    return self.sip_segment(buf, f, bidx, true, now);
                }
                if self.cfg.alg.h323.has(f.dport) || self.alg.sessions.h323_children > 0 {
                    self.h323_segment(buf, f, bidx, true, now);
                }
                Ok(())
            }
            PROTO_UDP => {
                if self.alg.expect.outbound_len() > 0 {
                    // Only H.323 makes outbound UDP expectations (media the subscriber sends).
                    if let Some(x) = self
                        .alg
                        .expect
                        .find_outbound(PROTO_UDP, f.dst, f.dport, f.src)
                    {
                        self.expectation_gone(x, Gone::Used, secs(now));
                    }
                }
                if self.cfg.alg.tftp.selects(f.dport) {
                    self.tftp_request(buf, f, bidx, now);
                } else if self.cfg.alg.h323_ras.selects(f.dport) {
                    self.h323_ras(buf, f, bidx, true, now);
                } else if self.cfg.alg.sip.selects(f.dport) {
                    self.sip_datagram(buf, f, bidx, true, now);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Hook for a translated inbound (outside → inside) packet that is not hairpinned and not
    /// a fragment.
    pub(crate) fn alg_inbound(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        now: u64,
    ) -> Result<(), DropReason> {
        if f.proto == PROTO_TCP && self.alg.sessions.len() > 0 {
            if self.cfg.alg.ftp.has(f.sport) {
                return self.ftp_segment(buf, f, bidx, false, now);
            }
            if self.cfg.alg.rtsp.has(f.sport) {
                return self.rtsp_segment(buf, f, bidx, false, now);
            }
            if self.cfg.alg.pptp.has(f.sport) {
                return self.pptp_segment(buf, f, bidx, false, now);
            }
            if self.cfg.alg.sip.has(f.sport) {
                return self.sip_segment(buf, f, bidx, false, now);
            }
            if self.cfg.alg.h323.has(f.sport) || self.alg.sessions.h323_children > 0 {
                self.h323_segment(buf, f, bidx, false, now);
            }
        } else if f.proto == PROTO_UDP && self.cfg.alg.h323_ras.selects(f.sport) {
            self.h323_ras(buf, f, bidx, false, now);
        } else if f.proto == PROTO_UDP && self.cfg.alg.sip.selects(f.sport) {
            self.sip_datagram(buf, f, bidx, false, now);
        }
        Ok(())
    }

    /// Hook before the inbound lookup: when `f` is the first packet of an expected flow (TCP
    /// SYN, UDP datagram) from the expected host, creates what it needs (the binding on the
    /// reserved port, the session the filter wants) and consumes the expectation; the normal
    /// inbound path then translates it. A first packet to an expected endpoint from any other
    /// host is counted as refused and left to the normal path (which drops it unless the
    /// filtering admits it anyway).
    pub(crate) fn alg_expected(&mut self, f: &Flow, now: u64) -> Result<(), DropReason> {
        if self.alg.expect.inbound_len() == 0 {
            return Ok(());
        }
        let first = match f.proto {
            PROTO_TCP => f.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN,
            PROTO_UDP => true,
            _ => false,
        };
        if !first {
            return Ok(());
        }
        let now_s = secs(now);
        let (hit, other) = self.alg.expect.find_inbound(f.proto, f.dst, f.dport, f.src);
        let Some(xi) = hit else {
            if let Some(o) = other.and_then(|o| self.alg.expect.get(o)) {
                self.counters.inc(refused_event(o.alg));
            }
            return Ok(());
        };
        let Some(x) = self.alg.expect.get(xi).copied() else {
            return Ok(());
        };
        if x.alg == (AlgKind::Sip { register: true }) && !self.sip_register_needed(f) {
            return Ok(()); // the filter admits it anyway: not a use
        }
        if now_s > x.expires_s {
            self.expectation_gone(xi, Gone::Expired, now_s);
            return Ok(());
        }
        let bidx = match self.nat.map_inbound(f.proto, f.dst, f.dport) {
            Some(i) => i,
            None if x.reserved != NONE => {
                if self
                    .nat
                    .bindings
                    .find_inside(key(x.proto, x.sub_ip, x.in_port))
                    .is_some()
                {
                    // The announced port got another public port meanwhile (endpoint-
                    // independent mapping wins): the expectation cannot be honoured.
                    self.counters.inc(refused_event(x.alg));
                    self.expectation_gone(xi, Gone::Evicted, now_s);
                    return Ok(());
                }
                let i = self.nat.bind_reserved(
                    x.reserved,
                    x.proto,
                    x.sub_ip,
                    x.in_port,
                    x.pub_ip,
                    x.pub_port,
                    if x.proto == PROTO_TCP {
                        timeouts::TCP_TRANSITORY
                    } else {
                        self.cfg.timeouts.class_for(x.proto, f.sport, true)
                    },
                    now_s,
                )?;
                if let Some(e) = self.alg.expect.get_mut(xi) {
                    e.reserved = NONE; // the binding owns the port now
                }
                self.counters.inc(Event::BindingCreated);
                self.nat.log_binding_created(i, (f.src, f.sport), now_s);
                i
            }
            None => {
                // The master's binding is gone: nothing to admit to.
                self.expectation_gone(xi, Gone::Expired, now_s);
                return Ok(());
            }
        };
        match f.proto {
            PROTO_TCP => {
                if self.nat.sessions.find(bidx, f.src, f.sport).is_none() {
                    self.nat.open_session(
                        bidx,
                        f.src,
                        f.sport,
                        tcpf::SYN_IN,
                        timeouts::TCP_TRANSITORY,
                        now_s,
                    )?;
                    self.counters.inc(Event::SessionCreated);
                }
                if let AlgKind::H323(Some(channel)) = x.alg {
                    self.h323_child(bidx, f.src, f.sport, channel);
                }
            }
            _ => {
                let rport = match self.cfg.filtering {
                    Filtering::EndpointIndependent => None,
                    Filtering::AddressDependent => Some(0),
                    Filtering::AddressAndPortDependent => Some(f.sport),
                };
                if let Some(rport) = rport {
                    if self.nat.sessions.find(bidx, f.src, rport).is_none() {
                        let class = self.cfg.timeouts.class_for(f.proto, f.sport, true);
                        self.nat.open_session(bidx, f.src, rport, 0, class, now_s)?;
                        self.counters.inc(Event::SessionCreated);
                    }
                }
            }
        }
        if x.alg == (AlgKind::Sip { register: true }) {
            // A registration admits the registrar until it expires, not once.
            self.counters.inc(gone_event(x.alg, Gone::Used));
            self.report_expectation(&x, false, now_s);
        } else {
            self.expectation_gone(xi, Gone::Used, now_s);
        }
        Ok(())
    }

    /// Hook before the outbound mapping of `f`: when the subscriber sends first from an
    /// endpoint an inbound expectation reserved a public port for (an RTSP client punching its
    /// `client_port` before the server's media, a phone sending RTP before the far end), the
    /// binding is made on that reserved port, so the public endpoint the ALG announced is the
    /// one the subscriber's packets leave from and the expected inbound media reaches. The
    /// expectation stays (it still admits only the master's remote host). An existing binding
    /// of that endpoint wins (endpoint-independent mapping); the reserved port then waits for
    /// its expectation to end.
    pub(crate) fn alg_claim_reserved(&mut self, f: &Flow, class: u8, now: u64) {
        if self.alg.expect.inbound_len() == 0 || (f.proto != PROTO_UDP && f.proto != PROTO_TCP) {
            return;
        }
        let Some(xi) = self.alg.expect.find_reserved(f.proto, f.src, f.sport) else {
            return;
        };
        let Some(x) = self.alg.expect.get(xi).copied() else {
            return;
        };
        let now_s = secs(now);
        if now_s > x.expires_s {
            self.expectation_gone(xi, Gone::Expired, now_s);
            return;
        }
        if self
            .nat
            .bindings
            .find_inside(key(f.proto, f.src, f.sport))
            .is_some()
        {
            return;
        }
        let Ok(i) = self.nat.bind_reserved(
            x.reserved, x.proto, x.sub_ip, x.in_port, x.pub_ip, x.pub_port, class, now_s,
        ) else {
            return; // the normal mapping path decides (and counts) what happens
        };
        if let Some(e) = self.alg.expect.get_mut(xi) {
            e.reserved = NONE; // the binding owns the port now
        }
        self.counters.inc(Event::BindingCreated);
        self.counters.inc(Event::AlgReservedClaimed);
        self.nat.log_binding_created(i, (f.dst, f.dport), now_s);
    }

    /// Removes expectation `xi`, giving back its reserved port and unlinking it from its
    /// master; counted by `why`.
    fn expectation_gone(&mut self, xi: u32, why: Gone, now_s: u32) {
        let Some(x) = self.alg.expect.remove(xi) else {
            return;
        };
        if x.reserved != NONE {
            self.nat
                .release_reserved(x.reserved, x.proto, x.pub_port, now_s);
        }
        if x.master != NONE {
            if let Some(m) = self.alg.sessions.master(x.master, x.master_gen) {
                m.unexpect(xi);
            }
        }
        if let AlgKind::Sip { .. } = x.alg {
            self.alg.sip.expectation_gone(x.sub_ip);
        }
        self.counters.inc(gone_event(x.alg, why));
        if why == Gone::Used {
            self.report_expectation(&x, false, now_s);
        }
    }

    /// Queues the log event of an expectation being created or used.
    fn report_expectation(&mut self, x: &Expect, created: bool, now_s: u32) {
        use crate::events::{ExpectationEvent as E, WorkerEvent};
        let kind = match (x.alg, created) {
            (AlgKind::Ftp, true) => E::FtpCreated,
            (AlgKind::Ftp, false) => E::FtpUsed,
            (AlgKind::Tftp, true) => E::TftpCreated,
            (AlgKind::Tftp, false) => E::TftpUsed,
            (AlgKind::H323(_), true) => E::H323Created,
            (AlgKind::H323(_), false) => E::H323Used,
            (AlgKind::Rtsp, true) => E::RtspCreated,
            (AlgKind::Rtsp, false) => E::RtspUsed,
            (AlgKind::Sip { .. }, true) => E::SipCreated,
            (AlgKind::Sip { .. }, false) => E::SipUsed,
        };
        self.nat.events.push(WorkerEvent::Expectation {
            kind,
            proto: x.proto,
            subscriber: x.sub_ip,
            remote: x.remote_ip,
            public: if x.inbound {
                (x.pub_ip, x.pub_port)
            } else {
                (0, 0)
            },
            at_s: now_s,
        });
    }

    /// Installs `x` (master: ALG session slot or [`NONE`]), refreshing an identical one,
    /// evicting the master's oldest beyond the per-session limit and the table's oldest when
    /// it is full.
    fn install_expectation(&mut self, mut x: Expect, now_s: u32) {
        x.expires_s = now_s.saturating_add(self.cfg.alg.expectation_timeout_secs);
        if let Some(same) = self.alg.expect.find_same(&x) {
            if x.reserved != NONE {
                self.nat
                    .release_reserved(x.reserved, x.proto, x.pub_port, now_s);
            }
            self.alg.expect.refresh(same, x.expires_s);
            return;
        }
        // An H.323 message announces several endpoints at once (h245Address and fastStart
        // RTP/RTCP pairs): its masters get the ceiling.
        let limit = match x.alg {
            AlgKind::H323(_) | AlgKind::Sip { .. } => MAX_EXPECTATIONS_PER_SESSION,
            _ => self.cfg.alg.max_expectations_per_session,
        }
        .clamp(1, MAX_EXPECTATIONS_PER_SESSION);
        let limit = if x.alg == AlgKind::Rtsp {
            alg_rtsp::expectation_limit(limit)
        } else {
            limit
        };
        if x.master != NONE {
            let oldest = self
                .alg
                .sessions
                .master(x.master, x.master_gen)
                .filter(|m| m.n_expects >= limit)
                .map(|m| m.expects[0]);
            if let Some(o) = oldest {
                self.expectation_gone(o, Gone::Evicted, now_s);
            }
        }
        if self.alg.expect.is_full() {
            if let Some(o) = self.alg.expect.oldest() {
                self.expectation_gone(o, Gone::Evicted, now_s);
            }
        }
        let Some(xi) = self.alg.expect.insert(x) else {
            // A table of capacity 0: nothing can be expected.
            if x.reserved != NONE {
                self.nat
                    .release_reserved(x.reserved, x.proto, x.pub_port, now_s);
            }
            self.counters.inc(gone_event(x.alg, Gone::Evicted));
            return;
        };
        if let AlgKind::Sip { .. } = x.alg {
            self.alg.sip.expectation_installed(x.sub_ip);
        }
        self.report_expectation(&x, true, now_s);
        if x.master != NONE {
            if let Some(m) = self.alg.sessions.master(x.master, x.master_gen) {
                let n = usize::from(m.n_expects);
                if n < m.expects.len() {
                    m.expects[n] = xi;
                    m.n_expects += 1;
                }
            }
        }
    }

    /// A datagram from a subscriber to a TFTP server port: a valid RRQ/WRQ expects the
    /// server's answer from a new port to the client's public endpoint.
    fn tftp_request(&mut self, buf: &B, f: &Flow, bidx: u32, now: u64) {
        let Some(payload) = buf.data().get(f.l4_off + 8..f.end) else {
            return;
        };
        let b = *self.nat.bindings.get(bidx);
        let public = SocketAddrV4::new(Ipv4Addr::from(b.pub_ip), b.pub_port);
        let inside = SocketAddrV4::new(Ipv4Addr::from(f.src), f.sport);
        let e = alg::tftp::process(
            payload,
            Ipv4Addr::from(f.dst),
            public,
            inside,
            &mut self.counters.alg_tftp,
        );
        if let Some(e) = e {
            let x = Expect {
                alg: AlgKind::Tftp,
                proto: PROTO_UDP,
                inbound: true,
                remote_ip: u32::from(e.remote_addr),
                remote_port: 0,
                pub_ip: b.pub_ip,
                pub_port: b.pub_port,
                sub_ip: f.src,
                in_port: f.sport,
                reserved: NONE,
                master: NONE,
                master_gen: 0,
                expires_s: 0,
            };
            self.install_expectation(x, secs(now));
        }
    }

    /// One TCP segment of a (possible) FTP control session, already translated.
    fn ftp_segment(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        outbound: bool,
        now: u64,
    ) -> Result<(), DropReason> {
        let now_s = secs(now);
        let (remote_ip, remote_port) = if outbound {
            (f.dst, f.dport)
        } else {
            (f.src, f.sport)
        };
        let Some((hl, seq, ack, flags)) = buf.data().get(f.l4_off..f.end).and_then(tcp_header)
        else {
            return Ok(());
        };
        let syn = flags & tcp_flags::SYN != 0;
        let bare_syn = syn && flags & tcp_flags::ACK == 0;
        if outbound && bare_syn {
            // A new control connection (or a SYN retransmission / reuse of the 4-tuple:
            // start afresh).
            if let Some(old) = self.alg.sessions.find(bidx, remote_ip, remote_port) {
                self.drop_alg_session(old);
            }
            if !self.cfg.alg.ftp.selects(f.dport) {
                return Ok(());
            }
            let Some(s) = self
                .alg
                .sessions
                .insert(bidx, remote_ip, remote_port, SessionKind::Ftp)
            else {
                self.counters.inc(Event::AlgSessionTableFull);
                return Ok(());
            };
            if let Some(st) = self.alg.sessions.get_mut(s) {
                st.ftp.synchronize(FtpSender::Client, seq.wrapping_add(1));
            }
            self.counters.inc(Event::AlgFtpSession);
            return Ok(());
        }
        let Some(slot) = self.alg.sessions.find(bidx, remote_ip, remote_port) else {
            return Ok(());
        };
        if self.alg.sessions.get(slot).map(|s| s.kind) != Some(SessionKind::Ftp) {
            return Ok(());
        }
        let dir = usize::from(!outbound);
        let payload_off = f.l4_off + hl;
        let payload_len = f.end - payload_off;
        let mut end = f.end;
        if syn {
            if let Some(st) = self.alg.sessions.get_mut(slot) {
                st.ftp.synchronize(FtpSender::Server, seq.wrapping_add(1));
            }
        } else if payload_len > 0 && self.cfg.alg.ftp.enabled {
            end = self.ftp_payload(buf, f, bidx, slot, outbound, seq, payload_off, now_s)?;
        }
        // Sequence correction of every segment of the session.
        let Some(st) = self.alg.sessions.get_mut(slot) else {
            return Ok(());
        };
        let (mine, theirs) = if dir == 0 {
            let [a, b] = &mut st.hist;
            (&*a, b)
        } else {
            let [a, b] = &mut st.hist;
            (&*b, a)
        };
        if mine.is_empty() && mine.offset() == 0 && theirs.is_empty() && theirs.offset() == 0 {
            return Ok(());
        }
        let Some(tcp) = buf.data_mut().get_mut(f.l4_off..end) else {
            return Ok(());
        };
        let mut c = be16(tcp, 16);
        let new_seq = mine.map_seq(seq);
        if new_seq != seq {
            put32(tcp, 4, new_seq);
            c = checksum::update32(c, seq, new_seq);
        }
        if flags & tcp_flags::ACK != 0 {
            let new_ack = theirs.unmap_ack(ack);
            if new_ack != ack {
                put32(tcp, 8, new_ack);
                c = checksum::update32(c, ack, new_ack);
            }
        }
        if hl > 20 {
            c = fix_sack(tcp, hl, theirs, c);
        }
        put16(tcp, 16, c);
        Ok(())
    }

    /// Parses and rewrites the payload of an FTP control segment; returns the new end of the
    /// datagram in the frame.
    #[allow(clippy::too_many_arguments)]
    fn ftp_payload(
        &mut self,
        buf: &mut B,
        f: &Flow,
        bidx: u32,
        slot: u32,
        outbound: bool,
        seq: u32,
        payload_off: usize,
        now_s: u32,
    ) -> Result<usize, DropReason> {
        let b = *self.nat.bindings.get(bidx);
        let dir = usize::from(!outbound);
        let Self {
            alg, nat, counters, ..
        } = self;
        let AlgState {
            sessions, scratch, ..
        } = alg;
        let Some(st) = sessions.get_mut(slot) else {
            return Ok(f.end);
        };
        let n = f.end - payload_off;
        let (Some(src), Some(dst)) = (buf.data().get(payload_off..f.end), scratch.get_mut(..n))
        else {
            return Ok(f.end);
        };
        dst.copy_from_slice(src);
        let orig = &scratch[..n];
        let before = (st.ftp, st.hist[dir], counters.alg_ftp);
        let mut reserved: [Option<(SocketAddrV4, u32)>; EDITS] = [None; EDITS];
        let (sender, side, peer) = if outbound {
            (FtpSender::Client, AlgSide::Inside, Ipv4Addr::from(f.dst))
        } else {
            (
                FtpSender::Server,
                AlgSide::Outside,
                Ipv4Addr::from(b.sub_ip),
            )
        };
        let seg = FtpSegment {
            sender,
            sender_side: side,
            seq,
            src: Ipv4Addr::from(f.src),
            payload: orig,
        };
        let out: FtpOutcome<EDITS> = ftp::process(
            &mut st.ftp,
            seg,
            peer,
            &mut st.hist[dir],
            &mut counters.alg_ftp,
            |msg| {
                // Endpoint-independent mapping: an inside port that already has a binding
                // is announced as its public endpoint; otherwise a port is reserved from the
                // subscriber's own blocks.
                if let Some(i) =
                    nat.bindings
                        .find_inside(key(PROTO_TCP, u32::from(msg.addr), msg.port))
                {
                    let e = nat.bindings.get(i);
                    return Some(SocketAddrV4::new(Ipv4Addr::from(e.pub_ip), e.pub_port));
                }
                let (ip, port, lb) = nat.reserve_port(bidx, PROTO_TCP, now_s)?;
                let sa = SocketAddrV4::new(Ipv4Addr::from(ip), port);
                if let Some(r) = reserved.iter_mut().find(|r| r.is_none()) {
                    *r = Some((sa, lb));
                } else {
                    // Cannot happen (one allocation per edit); never leak the port.
                    nat.release_reserved(lb, PROTO_TCP, port, now_s);
                    return None;
                }
                Some(sa)
            },
        );
        let mut release = |nat: &mut crate::nat::NatState, p: &SocketAddrV4| {
            if let Some(r) = reserved
                .iter_mut()
                .find(|r| r.is_some_and(|(s, _)| s == *p))
            {
                if let Some((s, lb)) = r.take() {
                    nat.release_reserved(lb, PROTO_TCP, s.port(), now_s);
                }
            }
        };
        for p in out.released() {
            release(nat, p);
        }
        if out.hold {
            return Err(DropReason::AlgHold);
        }
        let mut end = f.end;
        if !out.edits.is_empty() {
            let delta = out.edits.total_delta();
            let mtu = if outbound {
                self.cfg.outside.mtu
            } else {
                self.cfg.inside.mtu
            };
            let ip_total = i64::try_from(f.end - ETH).unwrap_or(i64::MAX);
            let new_total = ip_total + delta;
            let fits = buf.data().len() == f.end
                && new_total <= i64::from(mtu)
                && (delta <= 0 || usize::try_from(delta).is_ok_and(|d| d <= buf.tailroom()));
            if !fits {
                // Nothing of this segment's rewrite is kept; it passes unmodified.
                st.ftp = before.0;
                st.hist[dir] = before.1;
                counters.alg_ftp.rewrites = before.2.rewrites;
                counters.alg_ftp.expectations = before.2.expectations;
                for p in out.expectations().filter_map(|e| e.public) {
                    release(nat, &p);
                }
                counters.inc(Event::AlgFtpNoRoom);
                return Ok(f.end);
            }
            let new_end =
                usize::try_from(i64::try_from(f.end).unwrap_or(0) + delta).unwrap_or(f.end);
            if new_end > f.end && !buf.set_len(new_end) {
                return Ok(f.end); // checked above
            }
            let first = out.edits.iter().next().map_or(0, |e| e.offset()) & !1;
            let old_sum = checksum::sum(&orig[first..], 0);
            let d = buf.data_mut();
            if alg::apply_edits(orig, out.edits.iter(), &mut d[payload_off..new_end]).is_err() {
                // Cannot happen (edits come sorted and inside the payload); restore.
                d[payload_off..f.end].copy_from_slice(orig);
                buf.set_len(f.end);
                return Ok(f.end);
            }
            let new_sum = checksum::sum(&d[payload_off + first..new_end], 0);
            let old_l4 = u16::try_from(f.end - f.l4_off).unwrap_or(0);
            let new_l4 = u16::try_from(new_end - f.l4_off).unwrap_or(0);
            let old_total = u16::try_from(ip_total).unwrap_or(0);
            let new_total = u16::try_from(new_total).unwrap_or(0);
            let mut c = be16(d, f.l4_off + 16);
            c = checksum::update16(c, old_l4, new_l4);
            c = checksum::update16(
                c,
                u16::try_from(old_sum).unwrap_or(0xffff),
                u16::try_from(new_sum).unwrap_or(0xffff),
            );
            put16(d, f.l4_off + 16, c);
            put16(d, ETH + 2, new_total);
            let ipc = checksum::update16(be16(d, ETH + 10), old_total, new_total);
            put16(d, ETH + 10, ipc);
            if new_end < f.end {
                buf.set_len(new_end);
            }
            end = new_end;
        }
        // Expectations: inbound ones take the reservation made for their public endpoint.
        let (gen, installs) = (st.gen, out);
        for e in installs.expectations() {
            let x = match (e.initiator, e.public) {
                (AlgSide::Outside, Some(p)) => {
                    let lb = reserved
                        .iter_mut()
                        .find(|r| r.is_some_and(|(s, _)| s == p))
                        .and_then(Option::take)
                        .map_or(NONE, |(_, lb)| lb);
                    Expect {
                        alg: AlgKind::Ftp,
                        proto: PROTO_TCP,
                        inbound: true,
                        remote_ip: u32::from(e.remote_addr),
                        remote_port: 0,
                        pub_ip: u32::from(*p.ip()),
                        pub_port: p.port(),
                        sub_ip: u32::from(e.inside_addr),
                        in_port: e.inside_port.unwrap_or(0),
                        reserved: lb,
                        master: slot,
                        master_gen: gen,
                        expires_s: 0,
                    }
                }
                (AlgSide::Inside, _) => Expect {
                    alg: AlgKind::Ftp,
                    proto: PROTO_TCP,
                    inbound: false,
                    remote_ip: u32::from(e.remote_addr),
                    remote_port: e.remote_port.unwrap_or(0),
                    pub_ip: 0,
                    pub_port: 0,
                    sub_ip: u32::from(e.inside_addr),
                    in_port: 0,
                    reserved: NONE,
                    master: slot,
                    master_gen: gen,
                    expires_s: 0,
                },
                _ => continue,
            };
            self.install_expectation(x, now_s);
        }
        // Reservations no expectation took (cannot happen): give them back.
        for (s, lb) in reserved.iter().flatten() {
            self.nat.release_reserved(*lb, PROTO_TCP, s.port(), now_s);
        }
        Ok(end)
    }

    /// Frees an ALG session slot; its expectations stay (they carry all they need) but lose
    /// their master.
    fn drop_alg_session(&mut self, slot: u32) {
        self.rtsp_session_gone(slot);
        self.pptp_session_gone(slot);
        self.sip_session_gone(slot);
        if let Some(s) = self.alg.sessions.remove(slot) {
            for &x in &s.expects[..usize::from(s.n_expects)] {
                if let Some(e) = self.alg.expect.get_mut(x) {
                    if e.master == slot {
                        e.master = NONE;
                    }
                }
            }
        }
    }

    /// Timer work: expires expectations (bounded) and frees the ALG state of sessions that
    /// are gone (a bounded number of slots checked per call).
    pub(crate) fn alg_poll(&mut self, now: u64, budget: u32) {
        let now_s = secs(now);
        self.alg.rtsp.tick(now_s);
        self.pptp_poll(now_s, SWEEP_PER_POLL);
        let mut first_rotated = None;
        for _ in 0..budget {
            let Some(o) = self.alg.expect.oldest() else {
                break;
            };
            if let Some(x) = self.alg.expect.get(o).filter(|x| x.expires_s >= now_s) {
                // A SIP registration lives far longer than the expectations behind it: it
                // goes to the young end so they still expire in time (once round).
                if x.alg == (AlgKind::Sip { register: true }) && first_rotated != Some(o) {
                    first_rotated = first_rotated.or(Some(o));
                    self.alg.expect.refresh(o, x.expires_s);
                    continue;
                }
                break;
            }
            self.expectation_gone(o, Gone::Expired, now_s);
        }
        let cap = u32::try_from(self.alg.sessions.slots.len()).unwrap_or(0);
        if cap == 0 || self.alg.sessions.len() == 0 {
            return;
        }
        for _ in 0..SWEEP_PER_POLL.min(cap) {
            let i = self.alg.sessions.cursor % cap;
            self.alg.sessions.cursor = (i + 1) % cap;
            let Some(s) = self.alg.sessions.get(i) else {
                continue;
            };
            let gone = if s.kind == (SessionKind::Sip { tcp: false }) {
                // A UDP SIP master lives as long as its binding (EIF keeps no sessions).
                !sip::binding_alive(&self.nat, s.binding)
            } else {
                self.nat
                    .sessions
                    .find(s.binding, s.remote_ip, s.remote_port)
                    .is_none()
            };
            if gone {
                self.drop_alg_session(i);
            }
        }
    }
}
