//! Per-master-session SIP state: which media expectations belong to which call (to remove them
//! when the call ends), and the registration of the subscriber's Contact.
//!
//! Calls are keyed by the hash of their Call-ID. A call's expectations are removed on a BYE
//! request (RFC 3261 §15), on a CANCEL before the INVITE was answered (§9.2: a CANCEL has no
//! effect once a final response arrived), and on a final error response (≥ 300) to an INVITE
//! that was not answered with a 2xx yet; an error response to a re-INVITE leaves the call as
//! it was (§14.1: "the session parameters MUST remain unchanged"). Limits: [`MAX_CALLS`] calls
//! per master session (the least recently used one is evicted with its expectations) and
//! [`MAX_CALL_EXPECTATIONS`] expectations per call (the oldest evicted); both counted as
//! [`SipError::CallLimit`]. The per-subscriber limit is the dataplane's (it knows all of a
//! subscriber's sessions) and is passed in as the room left.
//!
//! Registration (RFC 3261 §10): a REGISTER from the subscriber with a Contact at its own
//! signalling endpoint is remembered as pending (Call-ID, CSeq, the registrar it was sent to).
//! Only a 2xx response with the same Call-ID and CSeq, from that registrar, activates the
//! inbound expectation towards the Contact, for the Expires the registrar granted (Contact
//! `expires` parameter, else the Expires header, else what was asked, else 3600 s, §10.2.1.1).
//! A re-REGISTER refreshes it, `expires=0` (or `Contact: *`) removes it, and
//! [`SipSession::expire`] removes it when it times out.

use super::message::SipMessage;
use super::{Method, SipError, StartLine, Translation, Transport};
use crate::expect::{Expectation, Protocol};
use core::net::{Ipv4Addr, SocketAddrV4};

/// Calls remembered per master session.
pub const MAX_CALLS: usize = 8;
/// Media expectations remembered per call (4 media lines × RTP and RTCP).
pub const MAX_CALL_EXPECTATIONS: usize = 8;
/// Recommended lifetime of an unused media expectation (REFERENCE.md: 180 s).
pub const CALL_TIMEOUT_SECS: u32 = 180;
/// Registration lifetime when neither side says (RFC 3261 §10.2.1.1 suggests 3600 s).
pub const REGISTER_DEFAULT_EXPIRES: u32 = 3600;

/// Up to `MAX_CALL_EXPECTATIONS` expectations the dataplane must remove.
pub type Removed = [Option<Expectation>; MAX_CALL_EXPECTATIONS];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Call {
    id: u64,
    confirmed: bool,
    expectations: [Option<Expectation>; MAX_CALL_EXPECTATIONS],
    used: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    call_id: u64,
    cseq: u32,
    registrar: Ipv4Addr,
    expectation: Expectation,
    expires: u32,
}

/// What a REGISTER response did to the registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterEvent {
    /// Install (or refresh) the inbound expectation towards the Contact until `expires_at`
    /// (seconds on the caller's clock).
    Install {
        /// The expectation: from the registrar, any port, to the public Contact endpoint.
        expectation: Expectation,
        /// When it times out.
        expires_at: u32,
    },
    /// Remove the expectation (`expires=0`, or a different Contact replaced it).
    Remove(Expectation),
}

/// SIP state of one master session. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SipSession {
    calls: [Option<Call>; MAX_CALLS],
    clock: u32,
    pending: Option<Pending>,
    registration: Option<(Expectation, u32)>,
}

fn add(slots: &mut Removed, e: Expectation) {
    if let Some(s) = slots.iter_mut().find(|s| s.is_none()) {
        *s = Some(e);
    }
}

impl SipSession {
    /// An empty state.
    pub const fn new() -> Self {
        Self {
            calls: [None; MAX_CALLS],
            clock: 0,
            pending: None,
            registration: None,
        }
    }

    /// Expectations remembered for the call `call_id`.
    pub fn call_expectations(&self, call_id: u64) -> impl Iterator<Item = &Expectation> + '_ {
        self.calls
            .iter()
            .flatten()
            .filter(move |c| c.id == call_id)
            .flat_map(|c| c.expectations.iter().flatten())
    }

    /// The active registration's expectation and its expiry time.
    pub fn registration(&self) -> Option<(Expectation, u32)> {
        self.registration
    }

    /// Records `exps` (from one message) under the call `call_id`. `room` is how many more
    /// expectations the subscriber may have (the dataplane's per-subscriber limit): if `exps`
    /// need more, none is recorded and `Err(CallLimit)` says not to install them. `Ok` lists
    /// what an eviction freed (remove those), and whether something was evicted.
    pub fn add_media(
        &mut self,
        call_id: u64,
        exps: &[Expectation],
        room: usize,
    ) -> Result<(Removed, bool), SipError> {
        let mut removed = [None; MAX_CALL_EXPECTATIONS];
        let mut evicted = false;
        self.clock = self.clock.wrapping_add(1);
        let fresh: usize = exps
            .iter()
            .filter(|e| !self.call_expectations(call_id).any(|x| x == *e))
            .count();
        if fresh > room {
            return Err(SipError::CallLimit);
        }
        let i = match self
            .calls
            .iter()
            .position(|c| matches!(c, Some(c) if c.id == call_id))
        {
            Some(i) => i,
            None => {
                let i = match self.calls.iter().position(Option::is_none) {
                    Some(i) => i,
                    None => {
                        // Evict the least recently used call.
                        let (i, _) = self
                            .calls
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, c)| c.map_or(0, |c| c.used))
                            .unwrap_or((0, &None));
                        if let Some(old) = self.calls[i].take() {
                            for e in old.expectations.iter().flatten() {
                                add(&mut removed, *e);
                            }
                        }
                        evicted = true;
                        i
                    }
                };
                self.calls[i] = Some(Call {
                    id: call_id,
                    confirmed: false,
                    expectations: [None; MAX_CALL_EXPECTATIONS],
                    used: 0,
                });
                i
            }
        };
        let clock = self.clock;
        if let Some(call) = self.calls[i].as_mut() {
            call.used = clock;
            for e in exps {
                if call.expectations.iter().flatten().any(|x| x == e) {
                    continue;
                }
                match call.expectations.iter_mut().find(|s| s.is_none()) {
                    Some(s) => *s = Some(*e),
                    None => {
                        // Oldest first: shift out slot 0.
                        if let Some(old) = call.expectations[0] {
                            add(&mut removed, old);
                        }
                        call.expectations.copy_within(1.., 0);
                        call.expectations[MAX_CALL_EXPECTATIONS - 1] = Some(*e);
                        evicted = true;
                    }
                }
            }
        }
        Ok((removed, evicted))
    }

    fn remove_call(&mut self, call_id: u64) -> Removed {
        let mut removed = [None; MAX_CALL_EXPECTATIONS];
        for slot in self.calls.iter_mut() {
            if matches!(slot, Some(c) if c.id == call_id) {
                if let Some(c) = slot.take() {
                    for e in c.expectations.iter().flatten() {
                        add(&mut removed, *e);
                    }
                }
            }
        }
        removed
    }

    /// Follows the call's life through `msg` (either direction): returns the expectations
    /// to remove when it ends (see the module documentation).
    pub fn on_message(&mut self, msg: &SipMessage) -> Removed {
        let none = [None; MAX_CALL_EXPECTATIONS];
        let Some(id) = msg.call_id else {
            return none;
        };
        let confirmed = self
            .calls
            .iter()
            .flatten()
            .any(|c| c.id == id && c.confirmed);
        match msg.start_line {
            StartLine::Request(Method::Bye) => self.remove_call(id),
            StartLine::Request(Method::Cancel) if !confirmed => self.remove_call(id),
            StartLine::Response(code) if matches!(msg.cseq, Some((_, Method::Invite))) => {
                if (200..300).contains(&code) {
                    for c in self.calls.iter_mut().flatten().filter(|c| c.id == id) {
                        c.confirmed = true;
                    }
                    none
                } else if code >= 300 && !confirmed {
                    self.remove_call(id)
                } else {
                    none
                }
            }
            _ => none,
        }
    }

    /// A REGISTER from the subscriber (already checked and rewritten with `t`) becomes the
    /// pending registration. Its Contact must be the subscriber's signalling endpoint (the
    /// only one with a public port: `t.public`); otherwise nothing is pending.
    pub fn register_request(&mut self, msg: &SipMessage, t: &Translation, transport: Transport) {
        if !msg.is_request(Method::Register) {
            return;
        }
        let (Some(call_id), Some((cseq, Method::Register))) = (msg.call_id, msg.cseq) else {
            return;
        };
        let proto = match transport {
            Transport::Udp => Protocol::Udp,
            Transport::Tcp => Protocol::Tcp,
        };
        let expectation = Expectation::inbound(proto, t.peer, t.public, t.inside);
        let expires = if msg.contact_star {
            0
        } else {
            match msg.contact {
                Some(c) if SocketAddrV4::new(c.addr, c.port) == t.inside => c
                    .expires
                    .or(msg.expires)
                    .unwrap_or(REGISTER_DEFAULT_EXPIRES),
                _ => return,
            }
        };
        self.pending = Some(Pending {
            call_id,
            cseq,
            registrar: t.peer,
            expectation,
            expires,
        });
    }

    /// A response to a REGISTER, from `sender`, at time `now` (seconds). 2xx from the
    /// registrar the pending REGISTER went to activates, refreshes or removes the
    /// registration.
    pub fn register_response(
        &mut self,
        msg: &SipMessage,
        sender: Ipv4Addr,
        t: &Translation,
        now: u32,
    ) -> Result<Option<RegisterEvent>, SipError> {
        let Some(code) = msg.status() else {
            return Ok(None);
        };
        let Some((cseq, Method::Register)) = msg.cseq else {
            return Ok(None);
        };
        let p = self.pending.ok_or(SipError::RegisterUnmatched)?;
        if msg.call_id != Some(p.call_id) || cseq != p.cseq || sender != p.registrar {
            return Err(SipError::RegisterUnmatched);
        }
        if code < 200 {
            return Ok(None);
        }
        self.pending = None;
        if code >= 300 {
            return Ok(None);
        }
        // The registrar lists the bindings it holds; ours is at the public endpoint.
        let granted = match msg.contact {
            Some(c) if SocketAddrV4::new(c.addr, c.port) == t.public => c.expires,
            _ => None,
        };
        let expires = if p.expires == 0 {
            0
        } else {
            granted.or(msg.expires).unwrap_or(p.expires)
        };
        if expires == 0 {
            return Ok(self
                .registration
                .take()
                .map(|(e, _)| RegisterEvent::Remove(e)));
        }
        let expires_at = now.wrapping_add(expires);
        self.registration = Some((p.expectation, expires_at));
        Ok(Some(RegisterEvent::Install {
            expectation: p.expectation,
            expires_at,
        }))
    }

    /// Removes the registration if it expired at `now`; returns its expectation.
    pub fn expire(&mut self, now: u32) -> Option<Expectation> {
        match self.registration {
            Some((e, at)) if crate::seq::seq_le(at, now) => {
                self.registration = None;
                Some(e)
            }
            _ => None,
        }
    }
}
