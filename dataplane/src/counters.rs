//! Per-worker counters: plain `u64`s indexed by enum, owned by one worker, never shared.
//!
//! Every way a packet can be dropped is a [`DropReason`] variant, and every variant is exactly
//! one counter, so "where did my packets go" is always answerable. The control thread reads
//! snapshots (copies) of these arrays; the worker never takes a lock to update them. The ALG
//! counters of the `alg` crate (`alg_ftp_*`, `alg_tftp_*`, `alg_h323_*`) are part of the same value, so
//! everything that prints or merges counters includes them.

use alg::ftp::FtpError;
use alg::h323::H323Error;
use alg::pptp::{GreError, PptpError};
use alg::rtsp::RtspError;
use alg::sip::SipError;
use alg::tftp::TftpError;
use alg::AlgCounters;

macro_rules! enum_with_names {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// The counter name as printed and exported.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
    };
}

enum_with_names! {
    /// Events that are not drops.
    pub enum Event {
        /// Frames received on the inside port.
        RxInside => "rx_inside",
        /// Frames received on the outside port.
        RxOutside => "rx_outside",
        /// Frames queued for transmission on the inside port.
        TxInside => "tx_inside",
        /// Frames queued for transmission on the outside port.
        TxOutside => "tx_outside",
        /// Packets translated inside -> outside.
        NatOut => "nat_out",
        /// Packets translated outside -> inside.
        NatIn => "nat_in",
        /// Bindings (endpoint-independent mappings) created.
        BindingCreated => "binding_created",
        /// Subscribers first seen.
        SubscriberCreated => "subscriber_created",
        /// Port blocks allocated to subscribers.
        BlockAllocated => "block_allocated",
        /// ARP requests received for one of our addresses.
        ArpRequestRx => "arp_request_rx",
        /// ARP replies received.
        ArpReplyRx => "arp_reply_rx",
        /// ARP replies sent.
        ArpReplySent => "arp_reply_sent",
        /// ARP requests sent to resolve a next hop.
        ArpRequestSent => "arp_request_sent",
        /// Packets held while their next hop was being resolved.
        ArpHeld => "arp_held",
        /// Held packets sent after resolution.
        ArpHeldSent => "arp_held_sent",
        /// ICMP echo replies sent for our own addresses.
        IcmpEchoReplySent => "icmp_echo_reply_sent",
        /// ICMP time-exceeded messages sent.
        IcmpTimeExceededSent => "icmp_time_exceeded_sent",
        /// ICMP errors not sent because of the rate limit.
        IcmpRateLimited => "icmp_rate_limited",
        /// Sessions (per remote endpoint) created.
        SessionCreated => "session_created",
        /// Packets translated twice to go from one subscriber to another (hairpinning).
        Hairpinned => "hairpinned",
        /// Packets forwarded untranslated inside -> outside (no-translate destinations).
        PassthroughOut => "passthrough_out",
        /// Packets forwarded untranslated outside -> inside.
        PassthroughIn => "passthrough_in",
        /// ICMP errors from outside translated to a subscriber (RFC 5508 REQ-4).
        IcmpErrorIn => "icmp_error_in",
        /// ICMP errors from subscribers translated to the outside (RFC 5508 REQ-5).
        IcmpErrorOut => "icmp_error_out",
        /// ICMP 3/13 sent because a mapping could not be created (RFC 5508 REQ-8).
        IcmpAdminProhibitedSent => "icmp_admin_prohibited_sent",
        /// ICMP 3/3 sent for an unsolicited inbound SYN after the hold time (RFC 5382 REQ-4).
        IcmpPortUnreachableSent => "icmp_port_unreachable_sent",
        /// ICMP 3/4 sent for DF packets larger than the next link's MTU (RFC 4787 REQ-13).
        IcmpFragNeededSent => "icmp_frag_needed_sent",
        /// Unsolicited inbound SYNs held (RFC 5382 REQ-4).
        SynHeld => "syn_held",
        /// Held inbound SYNs silently dropped because an outbound SYN for them followed.
        SynHoldSimultaneousOpen => "syn_hold_simultaneous_open",
        /// Non-first fragments translated with their first fragment's state.
        FragmentTranslated => "fragment_translated",
        /// Non-first fragments held until their first fragment arrived (RFC 4787 REQ-14).
        FragmentHeld => "fragment_held",
        /// TCP SYNs whose MSS option was lowered.
        MssClamped => "mss_clamped",
        /// Bindings reclaimed by expiry.
        BindingExpired => "binding_expired",
        /// Sessions reclaimed by expiry.
        SessionExpired => "session_expired",
        /// Port blocks returned to the pool after their hold-down.
        BlockReleased => "block_released",
        /// Inside frames that arrived on their owner's queue because the NIC's RSS (source
        /// address only) put them there.
        SteerNicInside => "steer_nic_inside",
        /// Outside frames that arrived on their owner's queue while rte_flow rules steer the
        /// outside port.
        SteerNicOutside => "steer_nic_outside",
        /// Frames (either port) already on their owner's queue under software steering.
        SteerLocal => "steer_local",
        /// Inside frames handed to the worker that owns their subscriber.
        HandoffInside => "handoff_inside",
        /// Outside frames handed to the worker that owns their port block.
        HandoffOutside => "handoff_outside",
        /// Outside fragments handed to the worker that steers their datagram (hash of source,
        /// destination, protocol, identification).
        HandoffFragment => "handoff_fragment",
        /// Hairpinned packets handed to the worker that owns the destination port block.
        HandoffHairpin => "handoff_hairpin",
        /// Copies of ARP frames sent to the other workers so every neighbour cache learns.
        HandoffArp => "handoff_arp",
        /// Frames received from another worker's handoff ring.
        HandoffReceived => "handoff_received",
        /// Live configuration snapshots applied.
        ConfigApplied => "config_applied",
        /// Live configuration snapshots refused (not live-compatible; nothing changed).
        ConfigRejected => "config_rejected",
        /// Outside fragments held while their datagram's first fragment (and owner) is unknown.
        FragmentSteerHeld => "fragment_steer_held",
        /// FTP control sessions given the FTP ALG (subscriber's SYN to an FTP server port).
        AlgFtpSession => "alg_ftp_sessions",
        /// New ALG sessions that got no ALG state because the ALG session table was full.
        AlgSessionTableFull => "alg_session_table_full",
        /// FTP segments whose rewrite did not fit the buffer's tailroom or the next link's
        /// MTU: passed unmodified, nothing of the rewrite kept.
        AlgFtpNoRoom => "alg_ftp_no_room",
        /// FTP expectations used: the expected data connection arrived (active mode) or left
        /// (passive mode).
        AlgFtpExpectationUsed => "alg_ftp_expectation_used",
        /// FTP expectations that timed out unused.
        AlgFtpExpectationExpired => "alg_ftp_expectation_expired",
        /// FTP expectations evicted (per-session or per-worker limit: the oldest goes).
        AlgFtpExpectationEvicted => "alg_ftp_expectation_evicted",
        /// First packets to an FTP-expected public endpoint from a host other than the
        /// expected one (not admitted), or expectations that could no longer be honoured.
        AlgFtpExpectationRefused => "alg_ftp_expectation_refused",
        /// TFTP expectations used: the server's answer from its new port arrived.
        AlgTftpExpectationUsed => "alg_tftp_expectation_used",
        /// TFTP expectations that timed out unused.
        AlgTftpExpectationExpired => "alg_tftp_expectation_expired",
        /// TFTP expectations evicted (per-worker limit: the oldest goes).
        AlgTftpExpectationEvicted => "alg_tftp_expectation_evicted",
        /// First packets to a TFTP-expected public endpoint from a host other than the
        /// expected server (not admitted by the expectation).
        AlgTftpExpectationRefused => "alg_tftp_expectation_refused",
        /// H.323 TCP sessions given the H.323 ALG: call signalling (subscriber's SYN to an
        /// `alg.h323.ports` port, or a connection a RAS `callSignalAddress` expected) and
        /// H.245 (a connection an `h245Address` expected).
        AlgH323Session => "alg_h323_sessions",
        /// H.323 expectations used: the expected H.245 connection, RTP/RTCP flow or RAS
        /// datagram arrived (inbound) or left (outbound).
        AlgH323ExpectationUsed => "alg_h323_expectation_used",
        /// H.323 expectations that timed out unused.
        AlgH323ExpectationExpired => "alg_h323_expectation_expired",
        /// H.323 expectations evicted (per-session or per-worker limit: the oldest goes).
        AlgH323ExpectationEvicted => "alg_h323_expectation_evicted",
        /// First packets to an H.323-expected public endpoint from a host other than the
        /// expected one (not admitted), or expectations that could no longer be honoured.
        AlgH323ExpectationRefused => "alg_h323_expectation_refused",
        /// RTSP control sessions given the RTSP ALG (subscriber's SYN to an RTSP server port).
        AlgRtspSession => "alg_rtsp_sessions",
        /// RTSP segments whose rewrite did not fit the buffer's tailroom or the next link's
        /// MTU: passed unmodified, nothing of the rewrite kept.
        AlgRtspNoRoom => "alg_rtsp_no_room",
        /// RTSP expectations (RTP or RTCP) used: the server's first media datagram arrived.
        AlgRtspExpectationUsed => "alg_rtsp_expectation_used",
        /// RTSP expectations that timed out unused.
        AlgRtspExpectationExpired => "alg_rtsp_expectation_expired",
        /// RTSP expectations evicted (per-session or per-worker limit, or removed by the
        /// client's TEARDOWN of their session).
        AlgRtspExpectationEvicted => "alg_rtsp_expectation_evicted",
        /// First packets to an RTSP-expected public endpoint from a host other than the
        /// server (not admitted), or expectations that could no longer be honoured.
        AlgRtspExpectationRefused => "alg_rtsp_expectation_refused",
        /// Subscriber packets sent first from an endpoint an ALG had announced (RTSP
        /// `client_port`, media ports): the binding was made on the reserved public port.
        AlgReservedClaimed => "alg_reserved_port_claimed",
        /// PPTP control connections given the PPTP ALG (subscriber's SYN to a PPTP port).
        AlgPptpSession => "alg_pptp_sessions",
        /// PPTP calls connected: GRE translations created (Outgoing-Call-Reply accepted,
        /// Incoming-Call-Connected).
        AlgPptpCall => "alg_pptp_calls",
        /// PPTP calls' GRE translations removed by the control connection (Call-Clear-Request,
        /// Call-Disconnect-Notify, Stop-Control-Connection, connection closed or expired) or
        /// replaced by a new call with the same Call ID.
        AlgPptpCallRemoved => "alg_pptp_calls_removed",
        /// PPTP calls' GRE translations expired (`gre_timeout_secs` without a packet).
        AlgPptpCallExpired => "alg_pptp_calls_expired",
        /// PPTP calls connected but not translated: the GRE call table was full.
        AlgPptpCallTableFull => "alg_pptp_call_table_full",
        /// SIP masters given the SIP ALG (a subscriber's SYN to a SIP port over TCP, the first
        /// datagram to or from a SIP port over UDP).
        AlgSipSession => "alg_sip_sessions",
        /// SIP datagrams or segments whose rewrite did not fit the buffer's tailroom or the
        /// next link's MTU: passed unmodified, nothing of the rewrite kept.
        AlgSipNoRoom => "alg_sip_no_room",
        /// SIP expectations used: RTP/RTCP from the peer arrived (inbound), the subscriber's
        /// media left (outbound), or the registrar reached a registered Contact.
        AlgSipExpectationUsed => "alg_sip_expectation_used",
        /// SIP expectations that timed out unused (a registration: its Expires passed).
        AlgSipExpectationExpired => "alg_sip_expectation_expired",
        /// SIP expectations evicted (limits, or removed by BYE/CANCEL/an error response/
        /// `expires=0`).
        AlgSipExpectationEvicted => "alg_sip_expectation_evicted",
        /// First packets to a SIP-expected public endpoint from a host other than the
        /// expected peer (not admitted), or expectations that could no longer be honoured.
        AlgSipExpectationRefused => "alg_sip_expectation_refused",
    }
}

enum_with_names! {
    /// Why a frame was dropped. One variant, one counter.
    pub enum DropReason {
        /// Frame shorter than an Ethernet header.
        EthTruncated => "drop_eth_truncated",
        /// Unicast frame for another MAC address.
        NotOurMac => "drop_not_our_mac",
        /// A frame we sent ourselves, seen again (af_packet loopback).
        Looped => "drop_looped",
        /// EtherType other than IPv4 and ARP (IPv6, VLAN, ...).
        UnsupportedEthertype => "drop_unsupported_ethertype",
        /// ARP packet too short or not Ethernet/IPv4.
        ArpMalformed => "drop_arp_malformed",
        /// ARP for an address that is not ours.
        ArpNotForUs => "drop_arp_not_for_us",
        /// IPv4 header truncated.
        Ipv4Truncated => "drop_ipv4_truncated",
        /// IP version not 4.
        Ipv4Version => "drop_ipv4_version",
        /// IHL below 5.
        Ipv4HeaderLength => "drop_ipv4_header_length",
        /// Total length below the header or beyond the frame.
        Ipv4TotalLength => "drop_ipv4_total_length",
        /// IPv4 header checksum wrong.
        Ipv4Checksum => "drop_ipv4_checksum",
        /// TCP/UDP/ICMP header truncated.
        L4Truncated => "drop_l4_truncated",
        /// TCP/UDP header with impossible lengths.
        L4Malformed => "drop_l4_malformed",
        /// ICMP checksum wrong (RFC 5508 REQ-3).
        IcmpChecksum => "drop_icmp_checksum",
        /// Non-first fragment dropped because its first fragment never came (timeout).
        FragmentTimeout => "drop_fragment_timeout",
        /// Fragment dropped: fragment table or hold area full.
        FragmentTableFull => "drop_fragment_table_full",
        /// First fragment whose translation conflicts with the one recorded for its datagram.
        FragmentConflict => "drop_fragment_conflict",
        /// First fragment too short to hold the transport header (RFC 1858 tiny fragment).
        FragmentTiny => "drop_fragment_tiny",
        /// Fragments of ICMP errors, hairpinned datagrams or GRE (not translated).
        FragmentUnsupported => "drop_fragment_unsupported",
        /// IP protocol other than TCP, UDP, ICMP and GRE (47, see `drop_gre_*`).
        UnsupportedProtocol => "drop_unsupported_protocol",
        /// ICMP type the translator does not handle.
        IcmpUnsupportedType => "drop_icmp_unsupported_type",
        /// Inside source address outside the subscriber prefixes.
        BadSource => "drop_bad_source",
        /// Outside packet for an address that is neither ours nor in the pool.
        NotForUs => "drop_not_for_us",
        /// Non-echo packet addressed to the appliance itself.
        ToSelf => "drop_to_self",
        /// Inbound packet with no binding.
        NoBinding => "drop_no_binding",
        /// Inbound packet refused by address(-and-port)-dependent filtering.
        Filtered => "drop_filtered",
        /// Inbound TCP segment (not a SYN) with no session.
        TcpNoSession => "drop_tcp_no_session",
        /// Unsolicited inbound SYN not held because the hold table was full.
        SynHoldFull => "drop_syn_hold_full",
        /// Unsolicited inbound SYN held (answered later or superseded): counted when dropped.
        SynUnsolicited => "drop_syn_unsolicited",
        /// ICMP error with no mapping for its embedded packet (RFC 5508 REQ-4).
        IcmpErrorNoBinding => "drop_icmp_error_no_binding",
        /// ICMP error whose embedded packet is malformed or truncated.
        IcmpErrorMalformed => "drop_icmp_error_malformed",
        /// ICMP error about something other than TCP, UDP or ICMP echo.
        IcmpErrorUnsupported => "drop_icmp_error_unsupported",
        /// Subscriber reached its session limit (RFC 6888 REQ-5).
        SessionLimit => "drop_session_limit",
        /// Session table full.
        SessionTableFull => "drop_session_table_full",
        /// Larger than the next link's MTU with DF set (ICMP 3/4 sent).
        TooBig => "drop_too_big",
        /// Larger than the next link's MTU without DF (fragmenting is not supported).
        TooBigNoDf => "drop_too_big_no_df",
        /// Subscriber has all its blocks full and may not get another.
        PortExhausted => "drop_port_exhausted",
        /// No public address has a free block for a new subscriber.
        PoolExhausted => "drop_pool_exhausted",
        /// Binding table full.
        BindingTableFull => "drop_binding_table_full",
        /// Subscriber table full.
        SubscriberTableFull => "drop_subscriber_table_full",
        /// Hairpinned packet with no binding or refused by the filter of its destination.
        Hairpin => "drop_hairpin",
        /// Off-link destination and no next hop configured.
        NoRoute => "drop_no_route",
        /// Next hop did not answer ARP in time.
        ArpUnresolved => "drop_arp_unresolved",
        /// Too many packets already held for ARP resolution.
        ArpQueueFull => "drop_arp_queue_full",
        /// TTL expired (an ICMP time-exceeded is sent, rate limited).
        TtlExceeded => "drop_ttl_exceeded",
        /// No mbuf available to build a reply or request.
        NoBuffer => "drop_no_buffer",
        /// The transmit batch or the NIC's TX ring was full.
        TxFull => "drop_tx_full",
        /// The per-burst handoff queue to another worker was full.
        HandoffQueueFull => "drop_handoff_queue_full",
        /// The handoff ring to another worker was full (the other worker is behind).
        HandoffRingFull => "drop_handoff_ring_full",
        /// A hairpinned fragment whose destination belongs to another worker.
        HandoffHairpinFragment => "drop_handoff_hairpin_fragment",
        /// A frame from a handoff ring with an unknown tag (a bug; never expected).
        HandoffBadTag => "drop_handoff_bad_tag",
        /// FTP or RTSP control segment held by the ALG (a line or RTSP header block to rewrite
        /// split across segments, data before it not seen, or too many unacknowledged sequence
        /// corrections): dropped so the sender retransmits.
        AlgHold => "drop_alg_hold",
        /// GRE that is not PPTP's enhanced GRE (version 0, another protocol type, bad flags,
        /// truncated; the reason is counted in `alg_pptp_gre_*`).
        GreUnsupported => "drop_gre_unsupported",
        /// PPTP GRE matching no connected call (outbound: subscriber, server and server's Call
        /// ID; inbound: public address and public Call ID).
        GreNoCall => "drop_gre_no_call",
        /// GRE matching no connected call while the PPTP ALG is off.
        GrePptpOff => "drop_gre_pptp_off",
    }
}

/// A worker's counters.
#[derive(Clone, PartialEq, Eq)]
pub struct Counters {
    events: [u64; EVENT_COUNT],
    drops: [u64; DROP_COUNT],
    /// FTP ALG: messages, rewrites, expectations created, parse failures by reason.
    pub alg_ftp: AlgCounters<FtpError>,
    /// TFTP ALG: requests, expectations created, parse failures by reason.
    pub alg_tftp: AlgCounters<TftpError>,
    /// H.323 ALG: messages, rewrites, expectations created, failures by reason.
    pub alg_h323: AlgCounters<H323Error>,
    /// RTSP ALG: messages, rewrites, expectations created, failures by reason.
    pub alg_rtsp: AlgCounters<RtspError>,
    /// PPTP ALG: control messages, rewrites, calls connected, failures by reason.
    pub alg_pptp: AlgCounters<PptpError>,
    /// PPTP GRE: why a GRE datagram was not PPTP's (failures only).
    pub alg_pptp_gre: AlgCounters<GreError>,
    /// SIP ALG: messages, rewrites, expectations created, failures by reason.
    pub alg_sip: AlgCounters<SipError>,
}

const EVENT_COUNT: usize = Event::ALL.len();
const DROP_COUNT: usize = DropReason::ALL.len();

impl Default for Counters {
    fn default() -> Self {
        Self {
            events: [0; EVENT_COUNT],
            drops: [0; DROP_COUNT],
            alg_ftp: AlgCounters::default(),
            alg_tftp: AlgCounters::default(),
            alg_h323: AlgCounters::default(),
            alg_rtsp: AlgCounters::default(),
            alg_pptp: AlgCounters::default(),
            alg_pptp_gre: AlgCounters::default(),
            alg_sip: AlgCounters::default(),
        }
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (name, v) in self.iter().filter(|(_, v)| *v != 0) {
            m.entry(&name, &v);
        }
        m.finish()
    }
}

impl Counters {
    /// Counts one event.
    #[inline]
    pub fn inc(&mut self, e: Event) {
        self.events[e as usize] += 1;
    }
    /// Counts `n` events.
    #[inline]
    pub fn add(&mut self, e: Event, n: u64) {
        self.events[e as usize] += n;
    }
    /// Counts one drop.
    #[inline]
    pub fn drop(&mut self, r: DropReason) {
        self.drops[r as usize] += 1;
    }
    /// Counts `n` drops.
    #[inline]
    pub fn drop_n(&mut self, r: DropReason, n: u64) {
        self.drops[r as usize] += n;
    }
    /// Value of an event counter.
    pub fn event(&self, e: Event) -> u64 {
        self.events[e as usize]
    }
    /// Value of a drop counter.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }
    /// Sum of all drop counters.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
    /// Every counter as (name, value): events, drops, then the ALG counters (`alg_ftp_*`,
    /// `alg_tftp_*`, `alg_h323_*`, see `docs/alg.md`).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Event::ALL
            .iter()
            .map(|e| (e.name(), self.event(*e)))
            .chain(DropReason::ALL.iter().map(|d| (d.name(), self.dropped(*d))))
            .chain(self.alg_ftp.iter())
            .chain(self.alg_tftp.iter())
            .chain(self.alg_h323.iter())
            .chain(self.alg_rtsp.iter())
            .chain(self.alg_pptp.iter())
            .chain(self.alg_pptp_gre.iter())
            .chain(self.alg_sip.iter())
    }
    /// Adds another worker's counters into this one.
    pub fn merge(&mut self, other: &Counters) {
        for (a, b) in self.events.iter_mut().zip(other.events.iter()) {
            *a += b;
        }
        for (a, b) in self.drops.iter_mut().zip(other.drops.iter()) {
            *a += b;
        }
        self.alg_ftp.merge(&other.alg_ftp);
        self.alg_tftp.merge(&other.alg_tftp);
        self.alg_h323.merge(&other.alg_h323);
        self.alg_rtsp.merge(&other.alg_rtsp);
        self.alg_pptp.merge(&other.alg_pptp);
        self.alg_pptp_gre.merge(&other.alg_pptp_gre);
        self.alg_sip.merge(&other.alg_sip);
    }
}
