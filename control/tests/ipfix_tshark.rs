//! The IPFIX exporter checked against an independent decoder: Wireshark's `cflow` dissector.
//!
//! The test wraps a template message and two data messages from
//! `control::logging::ipfix::Exporter` in Ethernet/IPv4/UDP frames to port 4739 (RFC 7011 §10.1:
//! the IPFIX port), writes them to a pcap file with a small hand-written writer (no dependency),
//! runs `tshark` on it and checks what it decoded: the template set is recognised (no "no
//! template found", nothing malformed, no undecoded data, no sequence-number complaint), and
//! every record's natEvent, addresses, ports and port range come out as sent.
//!
//! tshark is a test dependency installed by `make deps` (lab/deps.sh); without it this test
//! fails, with a message saying so, rather than passing without checking anything.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use control::logging::ipfix::{
    ExhaustionRecord, Exporter, NatEvent, PortBlockRecord, Record, SessionRecord,
    DEFAULT_MAX_MESSAGE_LEN, TEMPLATE_ADDRESSES_EXHAUSTED, TEMPLATE_PORTS_EXHAUSTED,
    TEMPLATE_PORT_BLOCK, TEMPLATE_QUOTA_EXCEEDED, TEMPLATE_SESSION, TEMPLATE_SESSION_DST,
};

const EXPORTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const COLLECTOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SRC_PORT: u16 = 50_000;
const IPFIX_PORT: u16 = 4739;
const EXPORT_TIME_S: u32 = 1_700_000_000;
const TIME_MS: u64 = 1_700_000_000_123;
const DOMAIN: u32 = 7;

const SUB_A: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const SUB_B: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const SUB_C: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 3);
const SUB_D: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 4);
const PUB_1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const PUB_2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const PUB_3: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

/// The records of the first data message, one of each layout except addresses exhausted.
fn first_batch() -> Vec<Record> {
    vec![
        Record::Block(PortBlockRecord {
            time_ms: TIME_MS,
            event: NatEvent::PortBlockAlloc,
            subscriber: SUB_A,
            public: PUB_1,
            port_start: 1024,
            port_end: 1535,
            step: 1,
            num_ports: 512,
        }),
        Record::Block(PortBlockRecord {
            time_ms: TIME_MS + 1,
            event: NatEvent::PortBlockDealloc,
            subscriber: SUB_B,
            public: PUB_2,
            port_start: 2048,
            port_end: 2559,
            step: 1,
            num_ports: 512,
        }),
        Record::Session(SessionRecord {
            time_ms: TIME_MS + 2,
            event: NatEvent::Nat44SessionCreate,
            protocol: 17,
            src: SUB_A,
            src_port: 40_001,
            post_src: PUB_1,
            post_src_port: 1030,
            dst: None,
        }),
        Record::Session(SessionRecord {
            time_ms: TIME_MS + 3,
            event: NatEvent::Nat44SessionCreate,
            protocol: 6,
            src: SUB_C,
            src_port: 40_002,
            post_src: PUB_3,
            post_src_port: 3000,
            dst: Some((SERVER, 443)),
        }),
        Record::Exhaustion(ExhaustionRecord {
            time_ms: TIME_MS + 4,
            event: NatEvent::PortsExhausted,
            subscriber: Some(SUB_D),
            public: Some(PUB_2),
            quota: None,
        }),
        Record::Exhaustion(ExhaustionRecord {
            time_ms: TIME_MS + 5,
            event: NatEvent::QuotaExceeded,
            subscriber: Some(SUB_B),
            public: None,
            quota: Some(ExhaustionRecord::QUOTA_MAX_ENTRIES_PER_USER),
        }),
    ]
}

/// The records of the second data message: its Sequence Number must be 6, which tshark's
/// sequence analysis checks.
fn second_batch() -> Vec<Record> {
    vec![
        Record::Session(SessionRecord {
            time_ms: TIME_MS + 6,
            event: NatEvent::Nat44SessionDelete,
            protocol: 17,
            src: SUB_A,
            src_port: 40_001,
            post_src: PUB_1,
            post_src_port: 1030,
            dst: None,
        }),
        Record::Exhaustion(ExhaustionRecord {
            time_ms: TIME_MS + 7,
            event: NatEvent::AddressesExhausted,
            subscriber: Some(SUB_C),
            public: None,
            quota: None,
        }),
    ]
}

/// RFC 1071 ones'-complement sum of `data`, folded, not inverted.
fn ones_complement_sum(data: &[u8], mut sum: u32) -> u32 {
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

fn checksum(data: &[u8], initial: u32) -> u16 {
    let folded = u16::try_from(ones_complement_sum(data, initial)).expect("folded to 16 bits");
    !folded
}

/// An Ethernet II / IPv4 / UDP frame from the exporter to the collector's IPFIX port carrying
/// `payload`, with valid IPv4 and UDP checksums (RFC 7011 §10.3.2 requires the UDP one).
fn udp_frame(payload: &[u8], ip_id: u16) -> Vec<u8> {
    let udp_len = u16::try_from(8 + payload.len()).expect("fits a datagram");
    let ip_len = 20 + udp_len;
    let mut frame = Vec::with_capacity(14 + usize::from(ip_len));
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC (collector)
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC (exporter)
    frame.extend_from_slice(&0x0800u16.to_be_bytes()); // EtherType IPv4

    let mut ip = Vec::with_capacity(20);
    ip.push(0x45); // version 4, IHL 5
    ip.push(0);
    ip.extend_from_slice(&ip_len.to_be_bytes());
    ip.extend_from_slice(&ip_id.to_be_bytes());
    ip.extend_from_slice(&0x4000u16.to_be_bytes()); // DF: never fragmented
    ip.push(64); // TTL
    ip.push(17); // UDP
    ip.extend_from_slice(&[0, 0]); // checksum, below
    ip.extend_from_slice(&EXPORTER.octets());
    ip.extend_from_slice(&COLLECTOR.octets());
    let ip_sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    frame.extend_from_slice(&ip);

    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&SRC_PORT.to_be_bytes());
    udp.extend_from_slice(&IPFIX_PORT.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]); // checksum, below
    udp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&EXPORTER.octets());
    pseudo.extend_from_slice(&COLLECTOR.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    let mut udp_sum = checksum(&udp, ones_complement_sum(&pseudo, 0));
    if udp_sum == 0 {
        udp_sum = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    udp[6..8].copy_from_slice(&udp_sum.to_be_bytes());
    frame.extend_from_slice(&udp);
    frame
}

/// A classic pcap file (little-endian, microsecond timestamps, LINKTYPE_ETHERNET = 1).
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // linktype Ethernet
    for (i, frame) in frames.iter().enumerate() {
        let len = u32::try_from(frame.len()).expect("small frame");
        let usec = u32::try_from(i).expect("few frames") * 1000;
        out.extend_from_slice(&EXPORT_TIME_S.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes()); // captured length
        out.extend_from_slice(&len.to_le_bytes()); // original length
        out.extend_from_slice(frame);
    }
    out
}

/// Fails the test, saying how to fix it, when tshark is missing: a skipped check would pass
/// silently.
fn require_tshark() {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`tshark --version` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "tshark is not installed (or not on PATH): run `make deps` (lab/deps.sh installs \
             tshark); this test checks the IPFIX encoder against Wireshark and cannot run without it"
        ),
        Err(e) => panic!("cannot run tshark: {e}"),
    }
}

/// Runs tshark with the IPFIX decode-as on `file` plus `args`; returns stdout.
fn tshark(file: &Path, args: &[&str]) -> String {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-d", "udp.port==4739,cflow"])
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run tshark");
    assert!(
        output.status.success(),
        "tshark {args:?} on {} failed: {}\n{}",
        file.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("tshark prints UTF-8")
}

/// Encodes the messages, wraps them in frames and writes the pcap to a fresh directory under
/// the target's temp dir (left there when the test fails, for a look with Wireshark).
fn write_capture() -> PathBuf {
    let mut exporter = Exporter::new(DOMAIN);
    let mut frames = Vec::new();

    let mut msg = Vec::new();
    assert!(exporter.should_resend_templates(EXPORT_TIME_S));
    exporter.templates(EXPORT_TIME_S, &mut msg);
    frames.push(udp_frame(&msg, 1));

    for (i, batch) in [first_batch(), second_batch()].iter().enumerate() {
        msg.clear();
        let n = exporter.records(EXPORT_TIME_S, batch, &mut msg, DEFAULT_MAX_MESSAGE_LEN);
        assert_eq!(n, batch.len(), "batch {i} fits one message");
        frames.push(udp_frame(&msg, 2 + u16::try_from(i).expect("few")));
    }
    assert_eq!(exporter.sequence(), 8);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ipfix_tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let file = dir.join("ipfix.pcap");
    std::fs::write(&file, pcap(&frames)).expect("write pcap");
    file
}

/// One line per frame of `-T fields` output, split on `|` (fields; `;` joins occurrences).
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| line.split('|').map(str::to_owned).collect())
        .collect()
}

#[test]
fn tshark_decodes_templates_and_every_record() {
    require_tshark();
    let file = write_capture();

    // --- the full dissection: nothing malformed, undecoded ("Data (N bytes), no template
    // found"), out of sequence ("Unexpected flow sequence"), and valid IP and UDP checksums ---
    let verbose = tshark(
        &file,
        &[
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-V",
        ],
    );
    for bad in [
        "Malformed",
        "Data (",
        "No template found",
        "no template found",
        "Unexpected flow sequence",
        "Expert Info (Warning",
        "Expert Info (Error",
        "[incorrect",
        "Status: Bad",
    ] {
        assert!(
            !verbose.contains(bad),
            "tshark -V on {} shows {bad:?}:\n{verbose}",
            file.display()
        );
    }
    assert_eq!(
        verbose.matches("Cisco NetFlow/IPFIX").count(),
        3,
        "three IPFIX frames:\n{verbose}"
    );

    // --- the template frame: every template ID, in order, in one Template Set ---
    let templates = tshark(
        &file,
        &[
            "-Y",
            "frame.number == 1",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=;",
            "-e",
            "cflow.version",
            "-e",
            "cflow.od_id",
            "-e",
            "cflow.sequence",
            "-e",
            "cflow.flowset_id",
            "-e",
            "cflow.template_id",
            "-e",
            "cflow.template_field_count",
        ],
    );
    let ids = [
        TEMPLATE_PORT_BLOCK,
        TEMPLATE_SESSION,
        TEMPLATE_SESSION_DST,
        TEMPLATE_ADDRESSES_EXHAUSTED,
        TEMPLATE_PORTS_EXHAUSTED,
        TEMPLATE_QUOTA_EXCEEDED,
    ]
    .map(|id| id.to_string())
    .join(";");
    assert_eq!(
        rows(&templates),
        [vec![
            "10".to_owned(),
            DOMAIN.to_string(),
            "0".to_owned(),
            "2".to_owned(),
            ids,
            "8;7;9;3;4;4".to_owned(),
        ]],
        "{templates}"
    );

    // --- the data frames: one list per field, in record order ---
    let fields = [
        "cflow.sequence",
        "cflow.flowset_id",
        "cflow.nat_event",
        "cflow.srcaddr",
        "cflow.post_natsource_ipv4_address",
        "cflow.port_range_start",
        "cflow.port_range_end",
        "cflow.port_range_step_size",
        "cflow.port_range_num_ports",
        "cflow.protocol",
        "cflow.srcport",
        "cflow.post_naptsource_transport_port",
        "cflow.dstaddr",
        "cflow.dstport",
        "cflow.nat_quota_exceeded_event",
        "cflow.observation_time_milliseconds",
    ];
    let mut args = vec![
        "-Y",
        "frame.number >= 2",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
    ];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let data = tshark(&file, &args);
    let got = rows(&data);
    let expected_first = [
        "0",                   // sequence: no data record before this message
        "256;257;258;260;261", // one Data Set per run of one template
        "16;17;4;4;12;13",     // natEvent, in record order
        // sourceIPv4Address: blocks A, B; sessions A, C; ports exhausted D; quota B
        "100.64.0.1;100.64.0.2;100.64.0.1;100.64.0.3;100.64.0.4;100.64.0.2",
        // postNATSourceIPv4Address: blocks 1, 2; sessions 1, 3; ports exhausted 2
        "198.51.100.1;198.51.100.2;198.51.100.1;198.51.100.3;198.51.100.2",
        "1024;2048",   // portRangeStart
        "1535;2559",   // portRangeEnd
        "1;1",         // portRangeStepSize
        "512;512",     // portRangeNumPorts
        "17;6",        // protocolIdentifier of the two sessions
        "40001;40002", // sourceTransportPort
        "1030;3000",   // postNAPTSourceTransportPort
        "203.0.113.9", // destinationIPv4Address: second session only
        "443",         // destinationTransportPort
        "3",           // natQuotaExceededEvent: maximum entries per user
    ];
    let expected_second = [
        "6", // sequence: six data records sent before this message
        "257;259",
        "5;3",
        "100.64.0.1;100.64.0.3",
        "198.51.100.1",
        "",
        "",
        "",
        "",
        "17",
        "40001",
        "1030",
        "",
        "",
        "",
    ];
    assert_eq!(got.len(), 2, "two data frames:\n{data}");
    for (row, expected) in got.iter().zip([&expected_first[..], &expected_second[..]]) {
        assert_eq!(row.len(), fields.len(), "{data}");
        for ((field, value), want) in fields.iter().zip(row).zip(expected) {
            assert_eq!(value, want, "{field} in\n{data}");
        }
    }
    // observationTimeMilliseconds: decoded as absolute times with the milliseconds we sent.
    let times: Vec<&str> = got
        .iter()
        .flat_map(|row| row[fields.len() - 1].split(';'))
        .collect();
    let expected_times: Vec<String> = (0..8)
        .map(|i| format!("Nov 14, 2023 22:13:20.{}000000 UTC", 123 + i))
        .collect();
    assert_eq!(times, expected_times, "{data}");

    std::fs::remove_dir_all(file.parent().expect("temp dir")).expect("clean up");
}
