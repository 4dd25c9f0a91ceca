//! Timeout classes and their durations (RFC 8512 defaults; RFC 4787 REQ-5, RFC 5382 REQ-5,
//! RFC 5508 REQ-2), including per-destination-port overrides.
//!
//! Every binding and session is on the LRU list of one class, and all members of a class share
//! one timeout, which is what lets expiry look only at list heads. A per-port override is
//! therefore a class of its own.

use crate::lru::MAX_CLASSES;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};

/// UDP mapping / session.
pub const UDP: u8 = 0;
/// TCP established.
pub const TCP_ESTABLISHED: u8 = 1;
/// TCP opening or closing (transitory).
pub const TCP_TRANSITORY: u8 = 2;
/// ICMP query.
pub const ICMP: u8 = 3;
/// First per-port override class.
pub const FIRST_PORT_CLASS: u8 = 4;
/// Most per-port overrides.
pub const MAX_PORT_OVERRIDES: usize = 8;

/// One per-destination-port override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortTimeout {
    /// IP protocol (UDP or TCP).
    pub proto: u8,
    /// Destination port.
    pub port: u16,
    /// Seconds (for TCP: replaces the established timeout).
    pub secs: u32,
}

/// All timeouts, seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP (RFC 4787 REQ-5: at least 120 s; default 300 s).
    pub udp: u32,
    /// TCP established idle (RFC 5382 REQ-5: default 7440 s).
    pub tcp_established: u32,
    /// TCP transitory (240 s).
    pub tcp_transitory: u32,
    /// Unsolicited inbound SYN hold (RFC 5382 REQ-4: 6 s).
    pub tcp_syn_hold: u32,
    /// ICMP query (RFC 5508 REQ-2: 60 s).
    pub icmp: u32,
    /// Per-destination-port overrides (at most [`MAX_PORT_OVERRIDES`]).
    pub per_port: Vec<PortTimeout>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            tcp_syn_hold: 6,
            icmp: 60,
            per_port: Vec::new(),
        }
    }
}

impl Timeouts {
    /// Seconds of class `c`.
    pub fn secs(&self, c: u8) -> u32 {
        match c {
            UDP => self.udp,
            TCP_ESTABLISHED => self.tcp_established,
            TCP_TRANSITORY => self.tcp_transitory,
            ICMP => self.icmp,
            _ => self
                .per_port
                .get(usize::from(c - FIRST_PORT_CLASS))
                .map_or(self.udp, |p| p.secs),
        }
    }

    /// Number of classes in use.
    pub fn classes(&self) -> u8 {
        let n = self
            .per_port
            .len()
            .min(MAX_PORT_OVERRIDES)
            .min(MAX_CLASSES - usize::from(FIRST_PORT_CLASS));
        FIRST_PORT_CLASS + u8::try_from(n).unwrap_or(0)
    }

    /// The class for traffic of `proto` to destination port `dport`; `established` selects the
    /// TCP established class (else transitory) and is ignored for other protocols.
    #[inline]
    pub fn class_for(&self, proto: u8, dport: u16, established: bool) -> u8 {
        match proto {
            PROTO_UDP | PROTO_TCP => {
                if proto != PROTO_TCP || established {
                    for (i, p) in self.per_port.iter().take(MAX_PORT_OVERRIDES).enumerate() {
                        if p.proto == proto && p.port == dport {
                            return FIRST_PORT_CLASS + u8::try_from(i).unwrap_or(0);
                        }
                    }
                }
                match (proto, established) {
                    (PROTO_UDP, _) => UDP,
                    (_, true) => TCP_ESTABLISHED,
                    _ => TCP_TRANSITORY,
                }
            }
            _ => ICMP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_port_override_gets_its_class() {
        let t = Timeouts {
            per_port: vec![PortTimeout {
                proto: PROTO_UDP,
                port: 53,
                secs: 10,
            }],
            ..Timeouts::default()
        };
        let c = t.class_for(PROTO_UDP, 53, false);
        assert_eq!(c, FIRST_PORT_CLASS);
        assert_eq!(t.secs(c), 10);
        assert_eq!(t.class_for(PROTO_UDP, 54, false), UDP);
        assert_eq!(t.class_for(PROTO_TCP, 53, true), TCP_ESTABLISHED);
        assert_eq!(t.class_for(PROTO_TCP, 80, false), TCP_TRANSITORY);
        assert_eq!(t.class_for(1, 0, false), ICMP);
        assert_eq!(t.classes(), 5);
    }
}
