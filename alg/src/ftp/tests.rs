//! FTP ALG tests; attack tests are named after the Security record of REFERENCE.md.

use super::*;
use crate::counters::AlgCounters;
use crate::edit::apply_edits;
use crate::seq::SeqHistory;
use crate::Side;
use proptest::prelude::*;

const CLIENT: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const OTHER_SUBSCRIBER: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 3);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 200);
const ISN: u32 = 1000;

/// One direction of a test session: state, sequence history, counters, next sequence number.
struct Dir {
    state: FtpState,
    hist: SeqHistory,
    counters: AlgCounters<FtpError>,
    sender: FtpSender,
    side: Side,
    src: Ipv4Addr,
    peer: Ipv4Addr,
    next_public_port: u16,
    allocations: usize,
}

/// What one segment turned into.
#[derive(Debug)]
struct Out {
    payload: Vec<u8>,
    outcome: FtpOutcome<4>,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
    fn expectations(&self) -> Vec<Expectation> {
        self.outcome.expectations().copied().collect()
    }
}

impl Dir {
    /// An inside client talking to an outside server.
    fn client() -> Self {
        Self::new(FtpSender::Client, Side::Inside, CLIENT, SERVER)
    }
    /// The outside server's replies to an inside client.
    fn server() -> Self {
        Self::new(FtpSender::Server, Side::Outside, SERVER, CLIENT)
    }
    fn new(sender: FtpSender, side: Side, src: Ipv4Addr, peer: Ipv4Addr) -> Self {
        let mut state = FtpState::new();
        state.synchronize(sender, ISN);
        Self {
            state,
            hist: SeqHistory::new(),
            counters: AlgCounters::default(),
            sender,
            side,
            src,
            peer,
            next_public_port: 50000,
            allocations: 0,
        }
    }
    fn seg<'a>(&self, seq: u32, payload: &'a [u8]) -> FtpSegment<'a> {
        FtpSegment {
            sender: self.sender,
            sender_side: self.side,
            seq,
            src: self.src,
            payload,
        }
    }
    fn send_at(&mut self, seq: u32, payload: &[u8]) -> Out {
        let seg = self.seg(seq, payload);
        let mut port = self.next_public_port;
        let mut allocs = 0;
        let outcome = process::<4>(
            &mut self.state,
            seg,
            self.peer,
            &mut self.hist,
            &mut self.counters,
            |_| {
                allocs += 1;
                let p = port;
                port += 1;
                Some(SocketAddrV4::new(PUBLIC, p))
            },
        );
        self.next_public_port = port;
        self.allocations += allocs;
        let mut out = vec![0u8; payload.len() + 4 * 64];
        let n = apply_edits(payload, outcome.edits.iter(), &mut out).unwrap();
        out.truncate(n);
        Out {
            payload: out,
            outcome,
        }
    }
    fn failed(&self, e: FtpError) -> u64 {
        self.counters.failed(e)
    }
}

fn sa(a: Ipv4Addr, p: u16) -> SocketAddrV4 {
    SocketAddrV4::new(a, p)
}

// ----------------------------------------------------------------------------------------
// Commands from an inside client.

#[test]
fn port_rewrite_grows_text() {
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"PORT 100,64,0,2,156,64\r\n");
    assert_eq!(o.text(), "PORT 203,0,113,200,195,80\r\n");
    assert_eq!(
        o.expectations(),
        [Expectation::inbound(
            Protocol::Tcp,
            SERVER,
            sa(PUBLIC, 50000),
            sa(CLIENT, 40000)
        )]
    );
    assert_eq!(c.counters.messages, 1);
    assert_eq!(c.counters.rewrites, 1);
    assert_eq!(c.counters.expectations, 1);
    // +3 bytes: later data of this direction moves, earlier does not.
    assert_eq!(c.hist.map_seq(ISN), ISN);
    assert_eq!(c.hist.map_seq(ISN + 24), ISN + 27);
}

#[test]
fn port_rewrite_shrinks_text() {
    let client = Ipv4Addr::new(100, 100, 100, 100);
    let mut c = Dir::new(FtpSender::Client, Side::Inside, client, SERVER);
    c.next_public_port = 1025;
    let line = b"PORT 100,100,100,100,255,255\r\n";
    let o = c.send_at(ISN, line);
    assert_eq!(o.text(), "PORT 203,0,113,200,4,1\r\n");
    assert_eq!(o.outcome.edits.total_delta(), -6);
    assert_eq!(c.hist.map_seq(ISN + 30), ISN + 24);
}

#[test]
fn port_rewrite_same_length_records_no_correction() {
    let client = Ipv4Addr::new(100, 64, 11, 200);
    let mut c = Dir::new(FtpSender::Client, Side::Inside, client, SERVER);
    c.next_public_port = 40000;
    let o = c.send_at(ISN, b"PORT 100,64,11,200,156,64\r\n");
    assert_eq!(o.text(), "PORT 203,0,113,200,156,64\r\n");
    assert_eq!(o.outcome.edits.total_delta(), 0);
    assert!(c.hist.is_empty());
    assert_eq!(c.counters.rewrites, 1);
}

#[test]
fn eprt_rewrite() {
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"EPRT |1|100.64.0.2|40000|\r\n");
    assert_eq!(o.text(), "EPRT |1|203.0.113.200|50000|\r\n");
    assert_eq!(o.expectations()[0].inside_port, Some(40000));
}

#[test]
fn eprt_with_odd_delimiter_keeps_it() {
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"EPRT !1!100.64.0.2!40000!\r\n");
    assert_eq!(o.text(), "EPRT !1!203.0.113.200!50000!\r\n");
}

#[test]
fn eprt_ipv6_passes_unmodified() {
    let mut c = Dir::client();
    let line = b"EPRT |2|fd00::2|40000|\r\n";
    let o = c.send_at(ISN, line);
    assert_eq!(o.payload, line);
    assert!(o.expectations().is_empty());
    assert_eq!(c.failed(FtpError::UnsupportedFamily), 1);
}

#[test]
fn eprt_malformed() {
    for (line, e) in [
        (&b"EPRT |1|100.64.0.2|40000\r\n"[..], FtpError::BadSyntax),
        (b"EPRT |1|100.64.0.2!40000|\r\n", FtpError::BadSyntax),
        (b"EPRT 1|100.64.0.2|40000|\r\n", FtpError::BadSyntax),
        (b"EPRT |1|100.64.0|40000|\r\n", FtpError::BadSyntax),
        (b"EPRT |1|100.64.0.256|40000|\r\n", FtpError::BadNumber),
        (b"EPRT |1|100.64.0.2|70000|\r\n", FtpError::PortOutOfRange),
        (b"EPRT |1|100.64.0.2|0|\r\n", FtpError::PortOutOfRange),
        (b"EPRT |1|100.64.0.2|40000|x\r\n", FtpError::BadSyntax),
        (
            b"EPRT |3|100.64.0.2|40000|\r\n",
            FtpError::UnsupportedFamily,
        ),
    ] {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert_eq!(o.payload, line, "{}", String::from_utf8_lossy(line));
        assert_eq!(c.failed(e), 1, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn lprt_rewrite() {
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"LPRT 4,4,100,64,0,2,2,156,64\r\n");
    assert_eq!(o.text(), "LPRT 4,4,203,0,113,200,2,195,80\r\n");
    let o = c.send_at(
        ISN + 30,
        b"LPRT 6,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,156,64\r\n",
    );
    assert!(o.outcome.edits.is_empty());
    assert_eq!(c.failed(FtpError::UnsupportedFamily), 1);
}

#[test]
fn lower_and_mixed_case_commands() {
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"port 100,64,0,2,156,64\r\n");
    assert_eq!(o.text(), "port 203,0,113,200,195,80\r\n");
    let o = c.send_at(ISN + 24, b"ePrT |1|100.64.0.2|40001|\r\n");
    assert_eq!(o.text(), "ePrT |1|203.0.113.200|50001|\r\n");
}

#[test]
fn leading_zeros_and_spaces_variants_real_clients_send() {
    for line in [
        &b"PORT 100,064,000,002,156,064\r\n"[..],
        b"PORT 100, 64, 0, 2, 156, 64\r\n",
        b"PORT  100,64,0,2,156,64 \r\n",
        b"PORT 100 ,64 ,0 ,2 ,156 ,64\r\n",
        b"PORT 100,64,0,2,156,64\n",
        b"PORT 0000000100,64,0,2,156,64\r\n",
    ] {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert!(
            o.text().starts_with("PORT ") && o.text().contains("203,0,113,200,195,80"),
            "{:?} -> {:?}",
            String::from_utf8_lossy(line),
            o.text()
        );
        assert_eq!(o.expectations()[0].inside_port, Some(40000));
    }
}

#[test]
fn numbers_above_255_are_refused() {
    for line in [
        &b"PORT 100,64,0,256,156,64\r\n"[..],
        b"PORT 100,64,0,2,156,300\r\n",
        b"PORT 100,64,0,2,156,99999999999999999999999\r\n",
    ] {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert_eq!(o.payload, line);
        assert!(o.expectations().is_empty());
        assert_eq!(c.failed(FtpError::BadNumber), 1);
    }
}

#[test]
fn port_syntax_errors() {
    for line in [
        &b"PORT 100,64,0,2,156\r\n"[..],
        b"PORT 100,64,0,2,156,64,1\r\n",
        b"PORT 100;64;0;2;156;64\r\n",
        b"PORT -1,64,0,2,156,64\r\n",
    ] {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert_eq!(o.payload, line);
        assert_eq!(
            c.failed(FtpError::BadSyntax),
            1,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // "PORTX", or "PORT" without a space and arguments, is another command: not of interest.
    let mut c = Dir::client();
    c.send_at(ISN, b"PORTX 100,64,0,2,156,64\r\nPORT\r\n");
    assert_eq!(c.counters.total_failures() + c.counters.messages, 0);
}

// ----------------------------------------------------------------------------------------
// Security record.

#[test]
fn attack_1_mid_stream_port_not_at_tracked_boundary() {
    let mut c = Dir::client();
    c.send_at(ISN, b"USER anonymous\r\n");
    // A segment that starts in the middle of a line (seq 1050 was never a line start) with
    // attacker-arranged text, as in NAT Slipstreaming.
    let line = b"PORT 100,64,0,2,156,64\r\n";
    let o = c.send_at(ISN + 50, line);
    assert_eq!(o.payload, line);
    assert!(o.expectations().is_empty());
    assert_eq!(c.failed(FtpError::NotAtBoundary), 1);
    // Unsynchronised state: the very first line is never trusted either.
    let mut fresh = Dir::client();
    fresh.state = FtpState::new();
    let o = fresh.send_at(ISN, line);
    assert_eq!(o.payload, line);
    assert_eq!(fresh.failed(FtpError::NotAtBoundary), 1);
    // ...but tracking starts at its LF.
    let o = fresh.send_at(ISN + 24, line);
    assert_eq!(o.text(), "PORT 203,0,113,200,195,80\r\n");
}

#[test]
fn line_after_an_lf_in_a_segment_that_started_mid_line_is_a_boundary() {
    let mut c = Dir::client();
    c.send_at(ISN, b"NOOP\r\n");
    // The receiver lost nothing, the NAT did: a segment starting inside a line (seq 2000).
    let o = c.send_at(2000, b"tail of something\r\nPORT 100,64,0,2,156,64\r\n");
    assert_eq!(
        o.text(),
        "tail of something\r\nPORT 203,0,113,200,195,80\r\n"
    );
    assert_eq!(c.failed(FtpError::NotAtBoundary), 0);
}

#[test]
fn attack_2_ftp_bounce_third_party_address() {
    // The embedded address is not the packet's real source: no rewrite, no pinhole.
    let mut c = Dir::client();
    let line = b"PORT 192,0,2,66,0,25\r\n";
    let o = c.send_at(ISN, line);
    assert_eq!(o.payload, line);
    assert!(o.expectations().is_empty());
    assert_eq!(c.failed(FtpError::AddressMismatch), 1);
    assert_eq!(c.allocations, 0);
}

#[test]
fn attack_3_pinhole_towards_another_internal_host_is_refused() {
    assert_eq!(OTHER_SUBSCRIBER, Ipv4Addr::new(100, 64, 0, 3));
    for line in [
        &b"PORT 100,64,0,3,156,64\r\n"[..],
        b"EPRT |1|100.64.0.3|40000|\r\n",
        b"LPRT 4,4,100,64,0,3,2,156,64\r\n",
    ] {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert_eq!(o.payload, line);
        assert!(o.expectations().is_empty());
        assert_eq!(c.failed(FtpError::AddressMismatch), 1);
        assert_eq!(c.allocations, 0);
    }
    // 227 from an outside server naming a subscriber (or any other host): no expectation.
    let mut s = Dir::server();
    let o = s.send_at(ISN, b"227 Entering Passive Mode (100,64,0,3,156,64).\r\n");
    assert!(o.expectations().is_empty());
    assert_eq!(s.failed(FtpError::ThirdPartyHost), 1);
}

#[test]
fn attack_4_port_zero_privileged_and_above_65535() {
    let cases: [(&[u8], FtpError); 6] = [
        (b"PORT 100,64,0,2,0,0\r\n", FtpError::PortOutOfRange),
        (b"PORT 100,64,0,2,0,21\r\n", FtpError::PrivilegedPort),
        (b"PORT 100,64,0,2,3,255\r\n", FtpError::PrivilegedPort),
        (b"EPRT |1|100.64.0.2|1023|\r\n", FtpError::PrivilegedPort),
        (b"EPRT |1|100.64.0.2|65536|\r\n", FtpError::PortOutOfRange),
        (b"LPRT 4,4,100,64,0,2,2,0,22\r\n", FtpError::PrivilegedPort),
    ];
    for (line, e) in cases {
        let mut c = Dir::client();
        let o = c.send_at(ISN, line);
        assert_eq!(o.payload, line);
        assert!(o.expectations().is_empty());
        assert_eq!(c.failed(e), 1, "{}", String::from_utf8_lossy(line));
    }
    // Port 1024 is the lowest accepted.
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"PORT 100,64,0,2,4,0\r\n");
    assert_eq!(o.expectations()[0].inside_port, Some(1024));
    let mut s = Dir::server();
    for line in [
        &b"229 Entering Extended Passive Mode (|||21|)\r\n"[..],
        b"227 Entering Passive Mode (198,51,100,10,0,80)\r\n",
    ] {
        let o = s.send_at(ISN, line);
        assert!(o.expectations().is_empty());
    }
    assert_eq!(s.failed(FtpError::PrivilegedPort), 2);
}

#[test]
fn attack_5_several_commands_in_one_segment_keep_offsets_right() {
    let mut c = Dir::client();
    let seg = b"TYPE I\r\nPORT 100,64,0,2,156,64\r\nRETR a\r\nport 100,64,0,2,156,65\r\nEPRT |1|100.64.0.2|40002|\r\n";
    let o = c.send_at(ISN, seg);
    assert_eq!(
        o.text(),
        "TYPE I\r\nPORT 203,0,113,200,195,80\r\nRETR a\r\nport 203,0,113,200,195,81\r\nEPRT |1|203.0.113.200|50002|\r\n"
    );
    assert_eq!(o.outcome.edits.len(), 3);
    let inside: Vec<_> = o.expectations().iter().map(|e| e.inside_port).collect();
    assert_eq!(inside, [Some(40000), Some(40001), Some(40002)]);
    assert_eq!(c.hist.len(), 3);
    assert_eq!(
        c.hist.map_seq(ISN + u32::try_from(seg.len()).unwrap()),
        ISN + u32::try_from(o.payload.len()).unwrap()
    );
    // More rewrites than the edit list holds: the extra ones are counted and not rewritten.
    let mut c = Dir::client();
    let mut many = Vec::new();
    for i in 0..5 {
        many.extend_from_slice(format!("PORT 100,64,0,2,156,{}\r\n", 64 + i).as_bytes());
    }
    let o = c.send_at(ISN, &many);
    assert_eq!(o.outcome.edits.len(), 4);
    assert_eq!(c.failed(FtpError::TooManyRewrites), 1);
    assert_eq!(o.expectations().len(), 4);
}

#[test]
fn attack_6_command_split_across_segments_is_held_then_passed() {
    let mut c = Dir::client();
    c.send_at(ISN, b"NOOP\r\n");
    let first = b"PORT 100,64,0,";
    // Held (dropped) so that the sender retransmits.
    let o = c.send_at(ISN + 6, first);
    assert!(o.outcome.hold);
    assert!(o.outcome.edits.is_empty() && o.expectations().is_empty());
    assert_eq!(c.failed(FtpError::SplitCommand), 1);
    // The retransmission carries the whole line (coalesced): rewritten.
    let o = c.send_at(ISN + 6, b"PORT 100,64,0,2,156,64\r\n");
    assert!(!o.outcome.hold);
    assert_eq!(o.text(), "PORT 203,0,113,200,195,80\r\n");

    // A line straddling the MSS boundary is split the same way every time: after
    // MAX_SPLIT_HOLDS holds it passes unmodified, and its tail is never parsed.
    let mut c = Dir::client();
    for _ in 0..MAX_SPLIT_HOLDS {
        assert!(c.send_at(ISN, first).outcome.hold);
    }
    let o = c.send_at(ISN, first);
    assert!(!o.outcome.hold);
    assert_eq!(o.payload, first);
    let tail = b"2,156,64\r\nPORT 100,64,0,2,156,65\r\n";
    let o = c.send_at(ISN + 14, tail);
    assert_eq!(o.text(), "2,156,64\r\nPORT 203,0,113,200,195,80\r\n");
    assert_eq!(
        c.failed(FtpError::SplitCommand),
        u64::from(MAX_SPLIT_HOLDS) + 1
    );
    assert_eq!(c.failed(FtpError::NotAtBoundary), 0);

    // A reply split at the end of an outside server's segment needs no rewrite: never held.
    let mut s = Dir::server();
    let o = s.send_at(ISN, b"227 Entering Passive Mode (198,51,");
    assert!(!o.outcome.hold);
    assert_eq!(s.failed(FtpError::SplitCommand), 1);
    // A complete PORT before the split line: its public port is handed back, and the
    // retransmission allocates afresh.
    let mut c = Dir::client();
    let o = c.send_at(ISN, b"PORT 100,64,0,2,156,64\r\nPORT 100,64,0,2,1");
    assert!(o.outcome.hold);
    assert_eq!(
        o.outcome.released().copied().collect::<Vec<_>>(),
        [sa(PUBLIC, 50000)]
    );
    let o = c.send_at(ISN, b"PORT 100,64,0,2,156,64\r\nPORT 100,64,0,2,156,65\r\n");
    assert_eq!(o.outcome.edits.len(), 2);
    assert_eq!(o.outcome.released().count(), 0);
    assert_eq!(c.allocations, 3);
    // A partial keyword counts too ("PO" may become "PORT").
    let mut c = Dir::client();
    assert!(c.send_at(ISN, b"PO").outcome.hold);
    // Not a line of interest: not held.
    let mut c = Dir::client();
    assert!(!c.send_at(ISN, b"RETR some-file").outcome.hold);
    assert_eq!(c.counters.total_failures(), 0);
}

#[test]
fn attack_10_retransmission_is_rewritten_identically() {
    let mut c = Dir::client();
    let seg = b"PORT 100,64,0,2,156,64\r\n";
    let first = c.send_at(ISN, seg);
    let again = c.send_at(ISN, seg);
    assert_eq!(first.payload, again.payload);
    assert_eq!(
        c.allocations, 1,
        "the retransmission reuses the public port"
    );
    assert_eq!(c.hist.len(), 1);
    // A retransmission coalesced with the next line: the first line again, the next new.
    let o = c.send_at(ISN, b"PORT 100,64,0,2,156,64\r\nLIST\r\n");
    assert_eq!(o.text(), "PORT 203,0,113,200,195,80\r\nLIST\r\n");
    assert_eq!(c.hist.map_seq(ISN + 24), ISN + 27);
}

#[test]
fn overlong_line() {
    let mut c = Dir::client();
    let mut line = b"PORT ".to_vec();
    line.extend(std::iter::repeat_n(b' ', MAX_LINE));
    line.extend_from_slice(b"100,64,0,2,156,64\r\n");
    let o = c.send_at(ISN, &line);
    assert_eq!(o.payload, line);
    assert_eq!(c.failed(FtpError::LineTooLong), 1);
    // Unterminated and over the limit: too long, not merely split; not held.
    let mut c = Dir::client();
    let o = c.send_at(ISN, &line[..MAX_LINE + 10]);
    assert!(!o.outcome.hold);
    assert_eq!(c.failed(FtpError::LineTooLong), 1);
    // A long line of no interest is skipped and the next line still parsed.
    let mut c = Dir::client();
    let mut seg = b"STOR ".to_vec();
    seg.extend(std::iter::repeat_n(b'x', 3000));
    seg.extend_from_slice(b"\r\nPORT 100,64,0,2,156,64\r\n");
    let o = c.send_at(ISN, &seg);
    assert!(o.text().ends_with("\r\nPORT 203,0,113,200,195,80\r\n"));
    assert_eq!(c.counters.total_failures(), 0);
}

// ----------------------------------------------------------------------------------------
// Replies.

#[test]
fn pasv_227_from_outside_server_is_not_rewritten() {
    let mut s = Dir::server();
    let line = b"227 Entering Passive Mode (198,51,100,10,195,80).\r\n";
    let o = s.send_at(ISN, line);
    assert_eq!(o.payload, line);
    assert_eq!(
        o.expectations(),
        [Expectation::outbound(
            Protocol::Tcp,
            CLIENT,
            sa(SERVER, 50000)
        )]
    );
    assert_eq!(s.counters.messages, 1);
    assert_eq!(s.counters.expectations, 1);
    assert_eq!(s.counters.rewrites, 0);
}

#[test]
fn pasv_227_without_parentheses() {
    for line in [
        &b"227 Entering Passive Mode 198,51,100,10,195,80\r\n"[..],
        b"227 =198,51,100,10,195,80\r\n",
        b"227 198,51,100,10,195,80\r\n",
        b"227 Entering passive mode (198, 51, 100, 10, 195, 80)\r\n",
    ] {
        let mut s = Dir::server();
        let o = s.send_at(ISN, line);
        assert_eq!(
            o.expectations()[0].remote_port,
            Some(50000),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // No digits at all, or a multi-line 227-: nothing.
    let mut s = Dir::server();
    s.send_at(ISN, b"227 Entering Passive Mode\r\n");
    assert_eq!(s.failed(FtpError::BadSyntax), 1);
    let mut s = Dir::server();
    s.send_at(ISN, b"227-Entering Passive Mode (198,51,100,10,195,80)\r\n");
    assert_eq!(s.counters.messages + s.counters.total_failures(), 0);
}

#[test]
fn pasv_227_from_inside_server_is_rewritten() {
    // A subscriber running a server (port forwarded): its replies name its inside address.
    let mut s = Dir::new(FtpSender::Server, Side::Inside, CLIENT, SERVER);
    let o = s.send_at(ISN, b"227 Entering Passive Mode (100,64,0,2,156,64).\r\n");
    assert_eq!(
        o.text(),
        "227 Entering Passive Mode (203,0,113,200,195,80).\r\n"
    );
    assert_eq!(
        o.expectations(),
        [Expectation::inbound(
            Protocol::Tcp,
            SERVER,
            sa(PUBLIC, 50000),
            sa(CLIENT, 40000)
        )]
    );
}

#[test]
fn epsv_229_variants() {
    let mut s = Dir::server();
    let o = s.send_at(ISN, b"229 Entering Extended Passive Mode (|||40000|)\r\n");
    assert_eq!(
        o.expectations(),
        [Expectation::outbound(
            Protocol::Tcp,
            CLIENT,
            sa(SERVER, 40000)
        )]
    );
    for line in [
        &b"229 Entering Extended Passive Mode (!!!40000!)\r\n"[..],
        b"229 EPSV ok (###40000#).\r\n",
    ] {
        let mut s = Dir::server();
        let o = s.send_at(ISN, line);
        assert_eq!(
            o.expectations().len(),
            1,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    for (line, e) in [
        (
            &b"229 Entering Extended Passive Mode (|!|40000|)\r\n"[..],
            FtpError::BadSyntax,
        ),
        (
            b"229 Entering Extended Passive Mode |||40000|\r\n",
            FtpError::BadSyntax,
        ),
        (
            b"229 Entering Extended Passive Mode (|||40000|\r\n",
            FtpError::BadSyntax,
        ),
        (
            b"229 Entering Extended Passive Mode (111400001)\r\n",
            FtpError::BadSyntax,
        ),
        (
            b"229 Entering Extended Passive Mode (|||99999|)\r\n",
            FtpError::PortOutOfRange,
        ),
        (
            b"229 Entering Extended Passive Mode (||||)\r\n",
            FtpError::BadSyntax,
        ),
    ] {
        let mut s = Dir::server();
        let o = s.send_at(ISN, line);
        assert!(o.expectations().is_empty());
        assert_eq!(s.failed(e), 1, "{}", String::from_utf8_lossy(line));
    }
    // From an inside server only the port is rewritten.
    let mut s = Dir::new(FtpSender::Server, Side::Inside, CLIENT, SERVER);
    let o = s.send_at(ISN, b"229 Entering Extended Passive Mode (|||1025|)\r\n");
    assert_eq!(
        o.text(),
        "229 Entering Extended Passive Mode (|||50000|)\r\n"
    );
    assert_eq!(o.expectations()[0].inside_port, Some(1025));
}

#[test]
fn lpsv_228() {
    let mut s = Dir::server();
    let o = s.send_at(
        ISN,
        b"228 Entering Long Passive Mode (4,4,198,51,100,10,2,195,80)\r\n",
    );
    assert_eq!(o.expectations()[0].remote_port, Some(50000));
}

#[test]
fn commands_are_only_parsed_from_the_client_and_replies_from_the_server() {
    let mut s = Dir::server();
    s.send_at(ISN, b"PORT 198,51,100,10,156,64\r\n");
    let mut c = Dir::client();
    c.send_at(ISN, b"227 Entering Passive Mode (100,64,0,2,156,64)\r\n");
    assert_eq!(s.counters.messages + c.counters.messages, 0);
}

#[test]
fn auth_tls_ends_inspection() {
    let mut s = Dir::server();
    let mut c = Dir::client();
    c.send_at(ISN, b"AUTH TLS\r\n");
    s.send_at(ISN, b"234 Proceed with negotiation.\r\n");
    assert_eq!(s.failed(FtpError::TlsStarted), 1);
    assert!(s.state.is_encrypted());
    // The dataplane keeps one FtpState per session; share it for the client direction.
    c.state = s.state;
    let line = b"PORT 100,64,0,2,156,64\r\n";
    let o = c.send_at(ISN + 10, line);
    assert_eq!(o.payload, line);
    assert_eq!(c.counters.messages, 0);
}

#[test]
fn no_public_port_and_full_history() {
    let mut c = Dir::client();
    let seg = FtpSegment {
        sender: FtpSender::Client,
        sender_side: Side::Inside,
        seq: ISN,
        src: CLIENT,
        payload: b"PORT 100,64,0,2,156,64\r\n",
    };
    let o: FtpOutcome<4> = process(
        &mut c.state,
        seg,
        SERVER,
        &mut c.hist,
        &mut c.counters,
        |_| None,
    );
    assert!(o.edits.is_empty() && !o.outcome_hold());
    assert_eq!(c.failed(FtpError::NoPublicPort), 1);

    // Fill the history with unacknowledged corrections: the next rewrite is held.
    let mut c = Dir::client();
    let mut seq = ISN;
    for _ in 0..crate::seq::HISTORY_LEN {
        let o = c.send_at(seq, b"PORT 100,64,0,2,156,64\r\n");
        assert!(!o.outcome.hold);
        seq += 24;
        c.state.announced = None; // a new line each time
    }
    let o = c.send_at(seq, b"PORT 100,64,0,2,156,64\r\n");
    assert!(o.outcome.hold);
    assert_eq!(c.failed(FtpError::SeqHistoryFull), 1);
    // Once the peer acknowledges, there is room again.
    let t = c.hist.map_seq(seq);
    c.hist.unmap_ack(t);
    let o = c.send_at(seq, b"PORT 100,64,0,2,156,64\r\n");
    assert!(!o.outcome.hold);
    assert_eq!(o.outcome.edits.len(), 1);
}

impl<const N: usize> FtpOutcome<N> {
    fn outcome_hold(&self) -> bool {
        self.hold
    }
}

#[test]
fn counter_names() {
    assert_eq!(
        FtpError::AddressMismatch.counter_name(),
        "alg_ftp_address_mismatch"
    );
    let mut k = AlgCounters::<FtpError>::default();
    k.fail(FtpError::SplitCommand);
    k.message();
    let names: Vec<_> = k.iter().filter(|(_, v)| *v > 0).map(|(n, _)| n).collect();
    assert_eq!(names, ["alg_ftp_messages", "alg_ftp_split_command"]);
    assert_eq!(k.iter().count(), 3 + FtpError::ALL.len());
}

// ----------------------------------------------------------------------------------------
// Properties.

/// Bytes that look like FTP: keywords, digits, separators, line ends.
fn ftpish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"PORT ".to_vec()),
        Just(b"EPRT |1|".to_vec()),
        Just(b"LPRT 4,4,".to_vec()),
        Just(b"227 (".to_vec()),
        Just(b"228 (4,4,".to_vec()),
        Just(b"229 (|||".to_vec()),
        Just(b"234 ".to_vec()),
        Just(b"100,64,0,2,".to_vec()),
        Just(b"198,51,100,10,".to_vec()),
        Just(b"100.64.0.2|".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b",".to_vec()),
        Just(b"|".to_vec()),
        Just(b" ".to_vec()),
        (0u32..100000).prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(token, 0..40).prop_map(|v| v.concat())
}

fn check_segment(
    state: &mut FtpState,
    hist: &mut SeqHistory,
    sender: FtpSender,
    side: Side,
    seq: u32,
    payload: &[u8],
) -> Result<(), TestCaseError> {
    let mut k = AlgCounters::<FtpError>::default();
    let src = if side == Side::Inside { CLIENT } else { SERVER };
    let seg = FtpSegment {
        sender,
        sender_side: side,
        seq,
        src,
        payload,
    };
    let mut port = 1024u16;
    let o: FtpOutcome<4> = process(state, seg, SERVER, hist, &mut k, |_| {
        port = port.wrapping_add(7919).max(1024);
        Some(sa(PUBLIC, port))
    });
    let mut last_end = 0;
    for e in o.edits.iter() {
        prop_assert!(e.offset() >= last_end && e.end() <= payload.len());
        last_end = e.end();
    }
    let mut out = vec![0u8; payload.len() + 4 * 64];
    let n = apply_edits(payload, o.edits.iter(), &mut out).unwrap();
    let expected = i64::try_from(payload.len()).unwrap() + o.edits.total_delta();
    prop_assert_eq!(i64::try_from(n).unwrap(), expected);
    for x in o.expectations() {
        // Never a pinhole towards anyone but the peer, never to a privileged port.
        prop_assert!(x.remote_addr == SERVER);
        prop_assert!(!matches!(x.inside_port, Some(p) if p < MIN_DATA_PORT));
        prop_assert!(!matches!(x.remote_port, Some(p) if p < MIN_DATA_PORT));
    }
    if o.hold {
        prop_assert!(o.edits.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_edits_stay_inside_the_payload(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        client in any::<bool>(),
        inside in any::<bool>(),
        seq in prop_oneof![Just(ISN), any::<u32>()],
    ) {
        let mut state = FtpState::new();
        state.synchronize(FtpSender::Client, ISN);
        state.synchronize(FtpSender::Server, ISN);
        let sender = if client { FtpSender::Client } else { FtpSender::Server };
        let side = if inside { Side::Inside } else { Side::Outside };
        check_segment(&mut state, &mut SeqHistory::new(), sender, side, seq, &bytes)?;
    }

    #[test]
    fn ftp_like_streams_in_several_segments(
        segs in prop::collection::vec(ftpish(), 1..5),
        client in any::<bool>(),
        inside in any::<bool>(),
    ) {
        let mut state = FtpState::new();
        let sender = if client { FtpSender::Client } else { FtpSender::Server };
        let side = if inside { Side::Inside } else { Side::Outside };
        state.synchronize(sender, u32::MAX - 20);
        let mut hist = SeqHistory::new();
        let mut seq = u32::MAX - 20;
        for s in &segs {
            check_segment(&mut state, &mut hist, sender, side, seq, s)?;
            seq = seq.wrapping_add(u32::try_from(s.len()).unwrap());
        }
    }
}
