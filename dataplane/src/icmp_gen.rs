//! ICMP errors the worker generates itself, rate limited by one token bucket per worker:
//! time exceeded (11/0), fragmentation needed (3/4, RFC 4787 REQ-13), administratively
//! prohibited when a mapping cannot be made (3/13, RFC 5508 REQ-8, RFC 6888 REQ-11), and port
//! unreachable for unsolicited inbound SYNs after their hold time (3/3, RFC 5382 REQ-4).
//!
//! An error goes back out of the port its trigger arrived on, from that port's address (for the
//! SYN case: from the public address the SYN was sent to), never about another ICMP error,
//! a broadcast or a non-first fragment (RFC 1122 §3.2.2, checked by
//! `icmp_error::may_send_error_about`).

use crate::buf::{BufAlloc, PacketBuf};
use crate::counters::{DropReason, Event};
use crate::icmp_error;
use crate::wire::icmp;
use crate::worker::{secs, Ip, Side, Tx, Worker, ETH, EXPIRY_BUDGET, MIN_FRAME};

impl<B: PacketBuf> Worker<B> {
    /// Takes a token from the ICMP error bucket (`icmp_error_rate` per second, same burst).
    pub(crate) fn icmp_allowed(&mut self, now: u64) -> bool {
        let rate = self.cfg.icmp_error_rate;
        if rate == 0 {
            return false;
        }
        let interval = 1_000_000_000 / u64::from(rate);
        let elapsed = now.saturating_sub(self.icmp_last_refill);
        if let Some(add) = elapsed.checked_div(interval) {
            if add > 0 {
                self.icmp_tokens = u32::try_from(u64::from(self.icmp_tokens) + add)
                    .unwrap_or(u32::MAX)
                    .min(rate);
                self.icmp_last_refill += add * interval;
            }
        }
        if self.icmp_tokens == 0 {
            return false;
        }
        self.icmp_tokens -= 1;
        true
    }

    /// Sends ICMP `icmp_type`/`code` about `orig` (received on `side`) back to its sender.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_icmp_error(
        &mut self,
        side: Side,
        orig: &B,
        ip: &Ip,
        icmp_type: u8,
        code: u8,
        mtu: Option<u16>,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        let quoted = &orig.data()[ETH..ip.end];
        if !icmp_error::may_send_error_about(quoted) {
            return;
        }
        let src = self.port(side).addr;
        self.emit_icmp_error(
            side,
            src,
            ip.src,
            icmp_type,
            code,
            mtu,
            quoted_copy(quoted).as_slice(),
            now,
            tx,
            alloc,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_icmp_error(
        &mut self,
        side: Side,
        src: u32,
        dst: u32,
        icmp_type: u8,
        code: u8,
        mtu: Option<u16>,
        quoted: &[u8],
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        if !self.icmp_allowed(now) {
            self.counters.inc(Event::IcmpRateLimited);
            return;
        }
        let Some(mut b) = alloc.alloc() else {
            self.counters.drop(DropReason::NoBuffer);
            return;
        };
        let room = (ETH + icmp_error::MAX_ERROR_LEN).min(ETH + b.tailroom());
        if !b.set_len(room) {
            self.counters.drop(DropReason::NoBuffer);
            return;
        }
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let n = icmp_error::build_error(
            &mut b.data_mut()[ETH..],
            icmp_type,
            code,
            src,
            dst,
            quoted,
            self.ip_ident,
            mtu,
        );
        if n == 0 || !b.set_len((ETH + n).max(MIN_FRAME)) || !b.set_len(ETH + n) {
            self.counters.drop(DropReason::NoBuffer);
            return;
        }
        self.counters.inc(match (icmp_type, code) {
            (icmp::TIME_EXCEEDED, _) => Event::IcmpTimeExceededSent,
            (_, 4) => Event::IcmpFragNeededSent,
            (_, 13) => Event::IcmpAdminProhibitedSent,
            _ => Event::IcmpPortUnreachableSent,
        });
        match self.next_hop(side, dst) {
            Ok(nh) => self.emit(side, b, nh, now, tx, alloc),
            Err(r) => self.counters.drop(r),
        }
    }

    /// Answers held SYNs whose hold time passed with ICMP 3/3 from the public address.
    pub(crate) fn expire_syn_hold(
        &mut self,
        now: u64,
        tx: &mut Tx<B>,
        alloc: &mut impl BufAlloc<B>,
    ) {
        let mut due: [Option<crate::syn_hold::Expired>; 16] = [None; 16];
        let mut n = 0;
        let hold = self.cfg.timeouts.tcp_syn_hold;
        self.syn_hold.expire(
            secs(now),
            hold,
            (EXPIRY_BUDGET as usize).min(due.len()),
            |e| {
                if n < due.len() {
                    due[n] = Some(e);
                    n += 1;
                }
            },
        );
        for e in due.iter().take(n).flatten() {
            self.emit_icmp_error(
                Side::Outside,
                e.key.pub_ip,
                e.key.remote_ip,
                icmp::DEST_UNREACHABLE,
                3,
                None,
                e.quote(),
                now,
                tx,
                alloc,
            );
        }
    }
}

/// A stack copy of what an error quotes (RFC 1812: as much as fits in 576 bytes), so the
/// original buffer can be dropped independently.
fn quoted_copy(q: &[u8]) -> QuoteBuf {
    let mut b = QuoteBuf {
        bytes: [0; icmp_error::MAX_ERROR_LEN],
        len: 0,
    };
    let n = q
        .len()
        .min(icmp_error::MAX_ERROR_LEN - icmp_error::ERROR_HEADER_LEN);
    b.bytes[..n].copy_from_slice(&q[..n]);
    b.len = n;
    b
}

struct QuoteBuf {
    bytes: [u8; icmp_error::MAX_ERROR_LEN],
    len: usize,
}

impl QuoteBuf {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}
