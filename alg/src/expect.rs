//! Expectations: a child flow announced inside a master session's payload.
//!
//! An [`Expectation`] tells the dataplane which connection (or UDP flow) to let through and
//! translate like its master: who initiates it ([`Expectation::initiator`]), the outside
//! party's address (always the master's own remote peer: an ALG never produces an expectation
//! towards a third host), the subscriber's endpoint in the inside domain and, for a child that
//! the outside opens, the public endpoint the outside party will target. Wildcards are `None`.
//!
//! Two shapes occur:
//!
//! * **inbound** (`initiator == Side::Outside`): the subscriber listens (FTP `PORT`/`EPRT`
//!   from an inside client, a TFTP reply to an inside client). The remote sends from
//!   `remote_addr` (any port unless `remote_port` is set) to `public`; the dataplane opens the
//!   pinhole there and translates it to `inside_addr:inside_port`.
//! * **outbound** (`initiator == Side::Inside`): the outside party listens (FTP `227`/`229` from
//!   an outside server). No pinhole is needed, the subscriber's connection is an ordinary new
//!   outbound flow; the expectation only lets the dataplane relate it to its master (same
//!   public address, ALG accounting). `public` is `None` and `inside_port` is `None` (any).
//!
//! Limits (how many per master, in total) and the timeout are the dataplane's and the control
//! plane's policy, not the parser's; see `docs/alg.md` for the defaults.

use core::net::{Ipv4Addr, SocketAddrV4};

/// Which side of the NAT a packet came from or a flow is opened by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The subscriber side (addresses are translated).
    Inside,
    /// The Internet side (addresses are not translated in NAT44).
    Outside,
}

/// Transport protocol of an expected flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub const fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// A child flow to admit and translate like its master. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expectation {
    /// Transport protocol of the child.
    pub protocol: Protocol,
    /// Which side sends the child's first packet (TCP SYN, first UDP datagram).
    pub initiator: Side,
    /// The outside party: always the master session's remote address.
    pub remote_addr: Ipv4Addr,
    /// The outside party's port, or `None` for any.
    pub remote_port: Option<u16>,
    /// The subscriber's address in the inside (real) domain.
    pub inside_addr: Ipv4Addr,
    /// The subscriber's port in the inside domain, or `None` for any.
    pub inside_port: Option<u16>,
    /// For an inbound child: the public (translated) endpoint the remote will target.
    pub public: Option<SocketAddrV4>,
}

impl Expectation {
    /// A child the outside party `remote_addr` opens, from any port, to `public`, which the
    /// dataplane translates to `inside`.
    pub const fn inbound(
        protocol: Protocol,
        remote_addr: Ipv4Addr,
        public: SocketAddrV4,
        inside: SocketAddrV4,
    ) -> Self {
        Self {
            protocol,
            initiator: Side::Outside,
            remote_addr,
            remote_port: None,
            inside_addr: *inside.ip(),
            inside_port: Some(inside.port()),
            public: Some(public),
        }
    }

    /// A child the subscriber `inside_addr` opens, from any port, to `remote`.
    pub const fn outbound(protocol: Protocol, inside_addr: Ipv4Addr, remote: SocketAddrV4) -> Self {
        Self {
            protocol,
            initiator: Side::Inside,
            remote_addr: *remote.ip(),
            remote_port: Some(remote.port()),
            inside_addr,
            inside_port: None,
            public: None,
        }
    }

    /// Whether the first packet of a flow matches: `from` sent it to `to`, both in the
    /// addressing the dataplane sees on arrival (for an inbound child, `to` is the public
    /// endpoint; for an outbound child, `from` is the subscriber's real endpoint).
    pub fn matches(&self, protocol: Protocol, from: SocketAddrV4, to: SocketAddrV4) -> bool {
        if protocol != self.protocol {
            return false;
        }
        let port_ok = |want: Option<u16>, got: u16| match want {
            None => true,
            Some(p) => p == got,
        };
        match self.initiator {
            Side::Outside => {
                *from.ip() == self.remote_addr
                    && port_ok(self.remote_port, from.port())
                    && self.public == Some(to)
            }
            Side::Inside => {
                *from.ip() == self.inside_addr
                    && port_ok(self.inside_port, from.port())
                    && *to.ip() == self.remote_addr
                    && port_ok(self.remote_port, to.port())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(a: [u8; 4], p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(a), p)
    }

    #[test]
    fn inbound_matches_any_remote_port_only_from_the_remote() {
        let e = Expectation::inbound(
            Protocol::Tcp,
            Ipv4Addr::new(198, 51, 100, 10),
            sa([203, 0, 113, 1], 40000),
            sa([100, 64, 0, 2], 5000),
        );
        assert!(e.matches(
            Protocol::Tcp,
            sa([198, 51, 100, 10], 20),
            sa([203, 0, 113, 1], 40000)
        ));
        assert!(e.matches(
            Protocol::Tcp,
            sa([198, 51, 100, 10], 1),
            sa([203, 0, 113, 1], 40000)
        ));
        assert!(!e.matches(
            Protocol::Udp,
            sa([198, 51, 100, 10], 20),
            sa([203, 0, 113, 1], 40000)
        ));
        assert!(!e.matches(
            Protocol::Tcp,
            sa([198, 51, 100, 11], 20),
            sa([203, 0, 113, 1], 40000)
        ));
        assert!(!e.matches(
            Protocol::Tcp,
            sa([198, 51, 100, 10], 20),
            sa([203, 0, 113, 1], 40001)
        ));
    }

    #[test]
    fn outbound_matches_the_announced_remote() {
        let e = Expectation::outbound(
            Protocol::Tcp,
            Ipv4Addr::new(100, 64, 0, 2),
            sa([198, 51, 100, 10], 50000),
        );
        assert!(e.matches(
            Protocol::Tcp,
            sa([100, 64, 0, 2], 33333),
            sa([198, 51, 100, 10], 50000)
        ));
        assert!(!e.matches(
            Protocol::Tcp,
            sa([100, 64, 0, 3], 33333),
            sa([198, 51, 100, 10], 50000)
        ));
        assert!(!e.matches(
            Protocol::Tcp,
            sa([100, 64, 0, 2], 33333),
            sa([198, 51, 100, 10], 50001)
        ));
    }
}
