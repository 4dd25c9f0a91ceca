//! The handler of each control message (RFC 2637 §2) for [`process`](super::process): the
//! control phase (Start/Stop-Control-Connection), the call life cycle and the Call ID field
//! each message carries. See [`super::control`] for the state and the policies.

use super::control::{Call, CallState, Phase, Run};
use super::message::{
    be16, ControlType, PptpSender, CALL_ID_AT, CALL_RESULT_AT, PEER_CALL_ID_AT, SCCRP_RESULT_AT,
};
use super::{PptpError, PptpEvent};

/// Result Code of success in Start-Control-Connection-Reply ("1 (Successful channel
/// establishment)"), Outgoing-Call-Reply ("1 (Connected)") and Incoming-Call-Reply
/// ("1 (Connect)").
const RESULT_OK: u8 = 1;

impl<A: FnMut(u16) -> Option<u16>> Run<'_, A> {
    /// A message processed before: rewritten the same way as long as its call exists, but
    /// nothing else changes (no state, no event, no count, no allocation).
    pub(super) fn retransmitted(&mut self, pos: usize, kind: ControlType, m: &[u8]) {
        let (calls, phase, events, counters) = (
            self.state.calls,
            self.state.phase,
            self.out.events,
            self.counters,
        );
        self.retrans = true;
        self.message(pos, kind, m);
        self.retrans = false;
        self.state.calls = calls;
        self.state.phase = phase;
        self.out.events = events;
        self.counters = counters;
    }

    pub(super) fn message(&mut self, pos: usize, kind: ControlType, m: &[u8]) {
        use ControlType::*;
        if kind.sender().is_some_and(|s| s != self.sender) {
            self.counters.fail(PptpError::OutOfState);
            return;
        }
        let is_call = !matches!(
            kind,
            StartControlConnectionRequest
                | StartControlConnectionReply
                | StopControlConnectionRequest
                | StopControlConnectionReply
                | EchoRequest
                | EchoReply
        );
        if is_call && self.state.phase != Phase::Established {
            self.counters.fail(PptpError::OutOfState);
            return;
        }
        // NEEDED_PREFIX (17) bytes are present, or the whole message if shorter (16).
        let id = be16(m, CALL_ID_AT).unwrap_or(0);
        let peer = be16(m, PEER_CALL_ID_AT).unwrap_or(0);
        let result = m.get(CALL_RESULT_AT).copied().unwrap_or(0);
        let r = match kind {
            StartControlConnectionRequest => self.start_request(),
            StartControlConnectionReply => {
                self.start_reply(m.get(SCCRP_RESULT_AT).copied().unwrap_or(0))
            }
            StopControlConnectionRequest => {
                self.stop_request();
                Ok(())
            }
            StopControlConnectionReply => self.stop_reply(),
            EchoRequest | EchoReply => Ok(()),
            OutgoingCallRequest => self.outgoing_request(pos, id),
            OutgoingCallReply => self.outgoing_reply(pos, id, peer, result),
            IncomingCallRequest => self.incoming_request(id),
            IncomingCallReply => self.incoming_reply(pos, id, peer, result),
            IncomingCallConnected => self.incoming_connected(pos, id),
            CallClearRequest => self.clear_request(pos, id),
            CallDisconnectNotify => self.disconnect_notify(id),
            WanErrorNotify => self.untranslate_peer(pos, id),
            SetLinkInfo => match self.sender {
                PptpSender::Pac => self.untranslate_peer(pos, id),
                PptpSender::Pns => self
                    .state
                    .find(|c| c.pac == id && c.state == CallState::Established)
                    .map(|_| ())
                    .ok_or(PptpError::UnknownCall),
            },
        };
        match r {
            Ok(()) => self.counters.message(),
            Err(e) => self.counters.fail(e),
        }
    }

    fn start_request(&mut self) -> Result<(), PptpError> {
        match self.state.phase {
            Phase::Idle | Phase::Requested(_) => {
                self.state.phase = Phase::Requested(self.sender);
                Ok(())
            }
            Phase::Established | Phase::Stopping => Err(PptpError::OutOfState),
        }
    }

    fn start_reply(&mut self, result: u8) -> Result<(), PptpError> {
        match self.state.phase {
            Phase::Requested(s) if s != self.sender => {
                self.state.phase = if result == RESULT_OK {
                    Phase::Established
                } else {
                    Phase::Idle
                };
                Ok(())
            }
            _ => Err(PptpError::OutOfState),
        }
    }

    fn stop_request(&mut self) {
        for slot in self.state.calls.iter_mut() {
            if let Some(e) = slot.take().and_then(|c| c.end_event()) {
                self.out.event(e);
            }
        }
        self.state.phase = Phase::Stopping;
    }

    fn stop_reply(&mut self) -> Result<(), PptpError> {
        if self.state.phase != Phase::Stopping {
            return Err(PptpError::OutOfState);
        }
        self.state.phase = Phase::Idle;
        Ok(())
    }

    fn outgoing_request(&mut self, pos: usize, inside: u16) -> Result<(), PptpError> {
        let live =
            |c: &Call| c.inside == inside && c.has_public() && c.state != CallState::Clearing;
        if let Some(i) = self.state.find(live) {
            // A retransmission (or a PNS reusing a live Call ID): the same public Call ID.
            let public = self.call(i).public;
            self.edit(pos + CALL_ID_AT, public);
            return Ok(());
        }
        if self.retrans {
            return Ok(());
        }
        let slot = self.state.free_slot().ok_or(PptpError::TooManyCalls)?;
        let public = (self.allocate)(inside).ok_or(PptpError::NoPublicCallId)?;
        if self
            .state
            .find(|c| c.has_public() && c.state != CallState::Clearing && c.public == public)
            .is_some()
        {
            return Err(PptpError::NoPublicCallId);
        }
        self.state.calls[slot] = Some(Call {
            state: CallState::OutgoingRequested,
            inside,
            public,
            pac: 0,
        });
        if let Some(a) = self.allocated.iter_mut().find(|a| a.is_none()) {
            *a = Some((inside, public));
        }
        self.edit(pos + CALL_ID_AT, public);
        Ok(())
    }

    fn call(&self, i: usize) -> Call {
        self.state.calls[i].unwrap_or(Call {
            state: CallState::Clearing,
            inside: 0,
            public: 0,
            pac: 0,
        })
    }

    fn outgoing_reply(
        &mut self,
        pos: usize,
        pac: u16,
        public: u16,
        result: u8,
    ) -> Result<(), PptpError> {
        let i = self
            .state
            .find(|c| {
                c.public == public
                    && matches!(
                        c.state,
                        CallState::OutgoingRequested | CallState::Established
                    )
            })
            .ok_or(PptpError::UnknownCall)?;
        let mut c = self.call(i);
        self.edit(pos + PEER_CALL_ID_AT, c.inside);
        if c.state == CallState::OutgoingRequested {
            if result == RESULT_OK {
                c.pac = pac;
                c.state = CallState::Established;
                self.state.calls[i] = Some(c);
                self.out.event(PptpEvent::Create(c.gre()));
            } else {
                self.state.calls[i] = None;
                if let Some(e) = c.end_event() {
                    self.out.event(e);
                }
            }
        }
        Ok(())
    }

    fn incoming_request(&mut self, pac: u16) -> Result<(), PptpError> {
        if self
            .state
            .find(|c| c.pac == pac && c.state == CallState::IncomingRequested)
            .is_some()
        {
            return Ok(());
        }
        let slot = self.state.free_slot().ok_or(PptpError::TooManyCalls)?;
        self.state.calls[slot] = Some(Call {
            state: CallState::IncomingRequested,
            inside: 0,
            public: 0,
            pac,
        });
        Ok(())
    }

    fn incoming_reply(
        &mut self,
        pos: usize,
        inside: u16,
        pac: u16,
        result: u8,
    ) -> Result<(), PptpError> {
        if let Some(i) = self.state.find(|c| {
            c.pac == pac
                && c.inside == inside
                && matches!(c.state, CallState::IncomingReplied | CallState::Established)
        }) {
            let public = self.call(i).public;
            self.edit(pos + CALL_ID_AT, public);
            return Ok(());
        }
        let i = self
            .state
            .find(|c| c.pac == pac && c.state == CallState::IncomingRequested)
            .ok_or(PptpError::UnknownCall)?;
        if result != RESULT_OK || self.retrans {
            self.state.calls[i] = None;
            return Ok(());
        }
        let public = (self.allocate)(inside).ok_or(PptpError::NoPublicCallId)?;
        if self
            .state
            .find(|c| c.has_public() && c.state != CallState::Clearing && c.public == public)
            .is_some()
        {
            return Err(PptpError::NoPublicCallId);
        }
        self.state.calls[i] = Some(Call {
            state: CallState::IncomingReplied,
            inside,
            public,
            pac,
        });
        if let Some(a) = self.allocated.iter_mut().find(|a| a.is_none()) {
            *a = Some((inside, public));
        }
        self.edit(pos + CALL_ID_AT, public);
        Ok(())
    }

    fn incoming_connected(&mut self, pos: usize, public: u16) -> Result<(), PptpError> {
        let i = self
            .state
            .find(|c| {
                c.public == public
                    && matches!(c.state, CallState::IncomingReplied | CallState::Established)
            })
            .ok_or(PptpError::UnknownCall)?;
        let mut c = self.call(i);
        self.edit(pos + CALL_ID_AT, c.inside);
        if c.state == CallState::IncomingReplied {
            c.state = CallState::Established;
            self.state.calls[i] = Some(c);
            self.out.event(PptpEvent::Create(c.gre()));
        }
        Ok(())
    }

    fn clear_request(&mut self, pos: usize, inside: u16) -> Result<(), PptpError> {
        let i = self
            .state
            .find(|c| c.inside == inside && c.has_public() && c.state != CallState::Clearing)
            .or_else(|| {
                self.state
                    .find(|c| c.inside == inside && c.state == CallState::Clearing)
            })
            .ok_or(PptpError::UnknownCall)?;
        let mut c = self.call(i);
        self.edit(pos + CALL_ID_AT, c.public);
        if let Some(e) = c.end_event() {
            self.out.event(e);
        }
        c.state = CallState::Clearing;
        self.state.calls[i] = Some(c);
        Ok(())
    }

    fn disconnect_notify(&mut self, pac: u16) -> Result<(), PptpError> {
        let i = self
            .state
            .find(|c| c.pac == pac && c.state != CallState::OutgoingRequested)
            .ok_or(PptpError::UnknownCall)?;
        let c = self.call(i);
        self.state.calls[i] = None;
        if let Some(e) = c.end_event() {
            self.out.event(e);
        }
        Ok(())
    }

    /// WAN-Error-Notify, Set-Link-Info from a PAC: Peer's Call ID (offset 12) is the public
    /// Call ID; the PNS must see its own.
    fn untranslate_peer(&mut self, pos: usize, public: u16) -> Result<(), PptpError> {
        let i = self
            .state
            .find(|c| c.public == public && c.state == CallState::Established)
            .ok_or(PptpError::UnknownCall)?;
        let inside = self.call(i).inside;
        self.edit(pos + CALL_ID_AT, inside);
        Ok(())
    }
}
