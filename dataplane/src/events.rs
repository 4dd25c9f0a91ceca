//! Events a worker reports to the control plane: port-block allocation and release (what an
//! operator logs instead of every session: RFC 6888 REQ-13/14, IPFIX natEvent 16/17) and
//! exhaustion (natEvent 3/12/13).
//!
//! The worker never waits and never allocates for them: events go into a fixed-capacity queue
//! that the poll loop drains between bursts and hands to the control thread; a full queue drops
//! the event and counts it (`log_event_dropped`). Exhaustion events are rate limited to one per
//! kind and second per worker (as VPP does), the suppressed ones counted.

/// One event. Addresses are host-order IPv4, times are seconds on the worker clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerEvent {
    /// A port block was allocated to a subscriber (natEvent 16).
    BlockAllocated {
        /// Subscriber address.
        subscriber: u32,
        /// Public address.
        public: u32,
        /// First port of the block.
        port_start: u16,
        /// Last port of the block.
        port_end: u16,
        /// When.
        at_s: u32,
    },
    /// A port block was returned to the pool after its hold-down (natEvent 17).
    BlockReleased {
        /// Subscriber address.
        subscriber: u32,
        /// Public address.
        public: u32,
        /// First port of the block.
        port_start: u16,
        /// Last port of the block.
        port_end: u16,
        /// When.
        at_s: u32,
    },
    /// A subscriber needed a port and had none left (natEvent 12).
    PortsExhausted {
        /// Subscriber address.
        subscriber: u32,
        /// When.
        at_s: u32,
    },
    /// A new subscriber found no public address with a free block (natEvent 3).
    AddressesExhausted {
        /// Subscriber address.
        subscriber: u32,
        /// When.
        at_s: u32,
    },
    /// A session was created (natEvent 4), for subscribers with per-session logging on.
    /// Under endpoint-independent filtering, UDP and ICMP keep no per-destination state: the
    /// mapping is the session, and `dest` is the destination that created it.
    SessionCreated {
        /// The session's addresses and ports.
        s: SessionLog,
        /// When.
        at_s: u32,
    },
    /// A session was deleted (natEvent 5).
    SessionDeleted {
        /// The session's addresses and ports.
        s: SessionLog,
        /// When.
        at_s: u32,
    },
    /// An ALG created an expectation (a pinhole for a child connection) or the expected
    /// connection arrived and used it.
    Expectation {
        /// What happened and to which ALG's expectation.
        kind: ExpectationEvent,
        /// IP protocol of the child connection.
        proto: u8,
        /// The subscriber.
        subscriber: u32,
        /// The outside party the child connection is for.
        remote: u32,
        /// The public endpoint the outside party connects to (0/0 for outbound children).
        public: (u32, u16),
        /// When.
        at_s: u32,
    },
    /// A subscriber hit its session limit (natEvent 13, natQuotaExceededEvent 1).
    QuotaExceeded {
        /// Subscriber address.
        subscriber: u32,
        /// When.
        at_s: u32,
    },
}

/// What a session log record carries (RFC 8158 NAT44 session create/delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLog {
    /// IP protocol number.
    pub proto: u8,
    /// Subscriber address.
    pub subscriber: u32,
    /// Inside port (ICMP: identifier).
    pub sub_port: u16,
    /// Public address.
    pub public: u32,
    /// Public port (ICMP: identifier).
    pub pub_port: u16,
    /// Remote endpoint, only when destination logging is on (RFC 6888 REQ-12).
    pub dest: Option<(u32, u16)>,
}

/// Expectation events (ALGs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectationEvent {
    /// FTP created one.
    FtpCreated,
    /// The FTP child connection arrived.
    FtpUsed,
    /// TFTP created one.
    TftpCreated,
    /// The TFTP server's answer arrived.
    TftpUsed,
    /// H.323 created one.
    H323Created,
    /// The H.323 child (H.245 connection, RTP/RTCP, RAS) arrived.
    H323Used,
    /// RTSP created one (RTP or RTCP of a SETUP the server accepted).
    RtspCreated,
    /// The RTSP server's first media datagram arrived.
    RtspUsed,
    /// SIP created one (RTP/RTCP of an SDP offer or answer, a registered Contact).
    SipCreated,
    /// The SIP child (media, or the registrar reaching the Contact) arrived.
    SipUsed,
}

impl ExpectationEvent {
    /// `"ftp created"`, ...
    pub fn describe(self) -> &'static str {
        match self {
            ExpectationEvent::FtpCreated => "ftp expectation created",
            ExpectationEvent::FtpUsed => "ftp expectation used",
            ExpectationEvent::TftpCreated => "tftp expectation created",
            ExpectationEvent::TftpUsed => "tftp expectation used",
            ExpectationEvent::H323Created => "h323 expectation created",
            ExpectationEvent::H323Used => "h323 expectation used",
            ExpectationEvent::RtspCreated => "rtsp expectation created",
            ExpectationEvent::RtspUsed => "rtsp expectation used",
            ExpectationEvent::SipCreated => "sip expectation created",
            ExpectationEvent::SipUsed => "sip expectation used",
        }
    }
}

/// Exhaustion kinds, for rate limiting.
const KINDS: usize = 3;

/// The queue.
#[derive(Debug)]
pub struct EventQueue {
    buf: Vec<WorkerEvent>,
    cap: usize,
    dropped: u64,
    suppressed: u64,
    last_s: [u32; KINDS],
}

impl EventQueue {
    /// A queue holding at most `cap` events between drains.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: Vec::with_capacity(cap),
            cap,
            dropped: 0,
            suppressed: 0,
            last_s: [u32::MAX; KINDS],
        }
    }

    /// Queues an event; a full queue drops it (counted). Exhaustion events beyond one per
    /// kind per second are suppressed (counted).
    pub fn push(&mut self, ev: WorkerEvent) {
        let kind = match ev {
            WorkerEvent::PortsExhausted { at_s, .. } => Some((0, at_s)),
            WorkerEvent::AddressesExhausted { at_s, .. } => Some((1, at_s)),
            WorkerEvent::QuotaExceeded { at_s, .. } => Some((2, at_s)),
            _ => None,
        };
        if let Some((k, at)) = kind {
            if self.last_s[k] == at {
                self.suppressed += 1;
                return;
            }
            self.last_s[k] = at;
        }
        if self.buf.len() >= self.cap {
            self.dropped += 1;
            return;
        }
        self.buf.push(ev);
    }

    /// Hands every queued event to `f`, oldest first.
    pub fn drain(&mut self, mut f: impl FnMut(WorkerEvent)) {
        for ev in self.buf.drain(..) {
            f(ev);
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Exhaustion events suppressed by the rate limit.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_rate_limited() {
        let mut q = EventQueue::new(2);
        let b = |p| WorkerEvent::BlockAllocated {
            subscriber: 1,
            public: 2,
            port_start: p,
            port_end: p + 7,
            at_s: 0,
        };
        q.push(b(1024));
        q.push(WorkerEvent::PortsExhausted {
            subscriber: 1,
            at_s: 5,
        });
        q.push(WorkerEvent::PortsExhausted {
            subscriber: 2,
            at_s: 5,
        });
        assert_eq!(q.suppressed(), 1);
        q.push(b(1032));
        assert_eq!(q.dropped(), 1);
        let mut got = vec![];
        q.drain(|e| got.push(e));
        assert_eq!(got.len(), 2);
        assert!(q.is_empty());
        q.push(WorkerEvent::PortsExhausted {
            subscriber: 1,
            at_s: 6,
        });
        assert_eq!(q.len(), 1, "a new second lets one through");
    }
}
