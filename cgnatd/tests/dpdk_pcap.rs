//! DPDK test: the real `cgnatd` binary, real EAL, real mbufs and the real poll loop, on
//! `net_pcap` virtual devices (pcap in, pcap out). One cgnatd process per test, each with its
//! own `--file-prefix`, so the tests may run in parallel.
//!
//! Scenario: a subscriber resolves the inside address, sends UDP, TCP SYN and an ICMP echo to a
//! server on the outside link; the next hop resolves the outside address; the server's replies
//! arrive for every port of the (single, 8-port) block, so exactly one per flow matches. The
//! outside capture must hold the exact translated frames, the inside capture the exact
//! de-translated replies, and the final counters must account for the rest.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

use etherparse::PacketBuilder;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// MACs the pcap PMD gives its first two ports (02:70:63:61:70:<index>); checked in the log.
const IN_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const OUT_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const SUB_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x10];
const NH_MAC: [u8; 6] = [0x0a, 0, 0, 0, 0, 0x20];
const SUB: [u8; 4] = [100, 64, 0, 2];
const SERVER: [u8; 4] = [198, 51, 100, 2];
const PUB: [u8; 4] = [203, 0, 113, 1];

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    f.write_all(&2u16.to_le_bytes()).unwrap();
    f.write_all(&4u16.to_le_bytes()).unwrap();
    f.write_all(&[0; 8]).unwrap();
    f.write_all(&65535u32.to_le_bytes()).unwrap();
    f.write_all(&1u32.to_le_bytes()).unwrap();
    for fr in frames {
        f.write_all(&[0; 8]).unwrap();
        let n = u32::try_from(fr.len()).unwrap().to_le_bytes();
        f.write_all(&n).unwrap();
        f.write_all(&n).unwrap();
        f.write_all(fr).unwrap();
    }
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    assert!(d.len() >= 24, "{} is not a pcap", path.display());
    let mut at = 24;
    let mut out = vec![];
    while at + 16 <= d.len() {
        let n = u32::from_le_bytes(d[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16;
        out.push(d[at..at + n].to_vec());
        at += n;
    }
    out
}

fn arp_request(smac: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0xff; 6];
    v.extend_from_slice(&smac);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&tpa);
    v.resize(60, 0);
    v
}

fn udp(
    sm: [u8; 6],
    dm: [u8; 6],
    s: [u8; 4],
    sp: u16,
    d: [u8; 4],
    dp: u16,
    ttl: u8,
    pl: &[u8],
) -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(sm, dm)
        .ipv4(s, d, ttl)
        .udp(sp, dp)
        .write(&mut v, pl)
        .unwrap();
    v
}

fn tcp_syn(sm: [u8; 6], dm: [u8; 6], s: [u8; 4], sp: u16, d: [u8; 4], dp: u16, ttl: u8) -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(sm, dm)
        .ipv4(s, d, ttl)
        .tcp(sp, dp, 1, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn tcp_synack(
    sm: [u8; 6],
    dm: [u8; 6],
    s: [u8; 4],
    sp: u16,
    d: [u8; 4],
    dp: u16,
    ttl: u8,
) -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(sm, dm)
        .ipv4(s, d, ttl)
        .tcp(sp, dp, 99, 64240)
        .syn()
        .ack(2)
        .write(&mut v, &[])
        .unwrap();
    v
}

fn echo(sm: [u8; 6], dm: [u8; 6], s: [u8; 4], d: [u8; 4], ttl: u8, req: bool, id: u16) -> Vec<u8> {
    let mut v = vec![];
    let b = PacketBuilder::ethernet2(sm, dm).ipv4(s, d, ttl);
    if req {
        b.icmpv4_echo_request(id, 1).write(&mut v, b"ping").unwrap();
    } else {
        b.icmpv4_echo_reply(id, 1).write(&mut v, b"ping").unwrap();
    }
    v
}

struct Run {
    dir: PathBuf,
    stderr: String,
    counters: std::collections::HashMap<String, u64>,
}

fn run_cgnatd(name: &str, inside: &[Vec<u8>], outside: &[Vec<u8>], extra: &str) -> Run {
    run_cgnatd_queues(name, &[inside.to_vec()], &[outside.to_vec()], extra)
}

/// Runs cgnatd with one worker per RX queue: queue `q` of each port reads `…_rx{q}.pcap`
/// (queue 0: `in_rx.pcap` / `out_rx.pcap`) and writes `…_tx{q}.pcap`.
fn run_cgnatd_queues(
    name: &str,
    inside: &[Vec<Vec<u8>>],
    outside: &[Vec<Vec<u8>>],
    extra: &str,
) -> Run {
    let (dir, cfg_path) = write_config(name, inside, outside, inside.len(), extra);
    run_config(name, dir, &cfg_path)
}

/// Writes the pcap inputs and the config (with `workers` workers) into a fresh directory.
fn write_config(
    name: &str,
    inside: &[Vec<Vec<u8>>],
    outside: &[Vec<Vec<u8>>],
    workers: usize,
    extra: &str,
) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("cgnat-dpdk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let queues = inside.len();
    assert_eq!(queues, outside.len());
    let suffix = |q: usize| if q == 0 { String::new() } else { q.to_string() };
    let mut vdev = [String::from("net_pcap0"), String::from("net_pcap1")];
    for q in 0..queues {
        let s = suffix(q);
        write_pcap(&dir.join(format!("in_rx{s}.pcap")), &inside[q]);
        write_pcap(&dir.join(format!("out_rx{s}.pcap")), &outside[q]);
        let d = dir.display();
        vdev[0].push_str(&format!(
            ",rx_pcap={d}/in_rx{s}.pcap,tx_pcap={d}/in_tx{s}.pcap"
        ));
        vdev[1].push_str(&format!(
            ",rx_pcap={d}/out_rx{s}.pcap,tx_pcap={d}/out_tx{s}.pcap"
        ));
    }
    // Main lcore 0 and the workers, spread over CPUs 0 and 1 (2-core CI machines).
    let lcores = (0..=workers)
        .map(|l| format!("{l}@{}", l % 2))
        .collect::<Vec<_>>()
        .join(",");
    let cfg = format!(
        r#"[eal]
args = ["--lcores", "{lcores}", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix", "cgnat-test-{name}-{pid}",
        "--vdev", "{in_vdev}",
        "--vdev", "{out_vdev}"]
[inside]
device = "net_pcap0"
address = "100.64.0.1/10"
[outside]
device = "net_pcap1"
address = "198.51.100.1/24"
next_hop = "198.51.100.254"
[pool]
prefixes = ["203.0.113.1/32"]
block_size = 8
max_blocks_per_subscriber = 1
# Parallel daemons: no fixed management ports (tests/api.rs covers the API).
[api]
enabled = false
metrics_enabled = false
[dataplane]
workers = {workers}
mbufs = 4095
rx_desc = 256
tx_desc = 256
max_bindings_per_worker = 1024
max_subscribers_per_worker = 64
{extra}"#,
        pid = std::process::id(),
        in_vdev = vdev[0],
        out_vdev = vdev[1],
    );
    let cfg_path = dir.join("cgnat.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    (dir, cfg_path)
}

/// Runs cgnatd on `cfg_path` until ready, lets it drain its pcap input, stops it with SIGTERM.
fn run_config(name: &str, dir: PathBuf, cfg_path: &Path) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--config")
        .arg(cfg_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (txl, rxl) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = txl.send(line);
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rxl.recv_timeout(left) {
            Ok(l) => {
                log.push_str(&l);
                log.push('\n');
                if l.contains("ready") {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("cgnatd not ready within 30 s:\n{log}");
            }
        }
    }
    // The pcap PMD delivers its whole file at once; give the poll loop time to drain it.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cgnatd did not stop within 15 s of SIGTERM:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    while let Ok(l) = rxl.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&l);
        log.push('\n');
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "cgnatd exited with {status}:\n{log}\n{out}"
    );
    assert!(
        out.starts_with("final counters\n"),
        "no final counters:\n{out}"
    );
    let counters = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect();
    let _ = std::fs::remove_dir(format!(
        "/var/run/dpdk/cgnat-test-{name}-{}",
        std::process::id()
    ));
    Run {
        dir,
        stderr: log,
        counters,
    }
}

#[test]
fn cgnatd_translates_real_mbufs_through_the_poll_loop() {
    let mut inside = vec![arp_request(SUB_MAC, SUB, [100, 64, 0, 1])];
    inside.push(udp(SUB_MAC, IN_MAC, SUB, 5000, SERVER, 53, 64, b"query"));
    inside.push(tcp_syn(SUB_MAC, IN_MAC, SUB, 40000, SERVER, 80, 64));
    inside.push(echo(SUB_MAC, IN_MAC, SUB, SERVER, 64, true, 0x4242));
    let mut outside = vec![arp_request(NH_MAC, [198, 51, 100, 254], [198, 51, 100, 1])];
    // The server (on-link) is resolved with its own ARP request for us.
    outside.push(arp_request(NH_MAC, SERVER, [198, 51, 100, 1]));
    // Replies to every port of the only block: one per protocol matches.
    for port in 1024..1032u16 {
        outside.push(udp(NH_MAC, OUT_MAC, SERVER, 53, PUB, port, 64, b"answer"));
        outside.push(tcp_synack(NH_MAC, OUT_MAC, SERVER, 80, PUB, port, 64));
        outside.push(echo(NH_MAC, OUT_MAC, SERVER, PUB, 64, false, port));
    }
    // Event sinks: a syslog receiver and an IPFIX collector on loopback, and a JSON file.
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ipfix = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let json = std::env::temp_dir().join(format!("cgnat-dpdk-events-{}.jsonl", std::process::id()));
    let syslog_file =
        std::env::temp_dir().join(format!("cgnat-dpdk-syslog-{}.log", std::process::id()));
    let extra = format!(
        "[logging]\nsyslog_server = \"{}\"\nipfix_collector = \"{}\"\njson_file = \"{}\"\n\
         syslog_file = \"{}\"\n",
        syslog.local_addr().unwrap(),
        ipfix.local_addr().unwrap(),
        json.display(),
        syslog_file.display()
    );
    let r = run_cgnatd("basic", &inside, &outside, &extra);
    syslog.set_nonblocking(true).unwrap();
    ipfix.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = syslog.recv_from(&mut buf).expect("a syslog message");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.starts_with("<134>1 "), "{line}");
    assert!(
        line.contains("PBAADD [nat@32473 ISADDR=\"100.64.0.2\" XSADDR=\"203.0.113.1\" XPORTSTART=\"1024\" XPORTEND=\"1031\"]"),
        "{line}"
    );
    let (n, _) = ipfix
        .recv_from(&mut buf)
        .expect("an IPFIX templates message");
    assert_eq!(&buf[..2], &[0, 10], "IPFIX version 10");
    assert_eq!(
        usize::from(u16::from_be_bytes([buf[2], buf[3]])),
        n,
        "IPFIX message length"
    );
    assert_eq!(&buf[16..18], &[0, 2], "first set is the template set");
    let (n, _) = ipfix.recv_from(&mut buf).expect("an IPFIX data message");
    assert!(
        n > 20 && u16::from_be_bytes([buf[16], buf[17]]) >= 256,
        "a data set (set ID >= 256)"
    );
    // The syslog file holds the same RFC 5424 lines: the allocation, then (at shutdown) the
    // release of the block.
    let sf = std::fs::read_to_string(&syslog_file).unwrap();
    let lines: Vec<&str> = sf.lines().collect();
    assert_eq!(lines.len(), 2, "{sf}");
    assert_eq!(
        lines[0],
        line.trim_end(),
        "file and UDP carry the same message"
    );
    assert!(
        lines[1].contains("PBADEL [nat@32473 ISADDR=\"100.64.0.2\" XSADDR=\"203.0.113.1\" XPORTSTART=\"1024\" XPORTEND=\"1031\"]"),
        "{sf}"
    );
    let _ = std::fs::remove_file(&syslog_file);
    let j = std::fs::read_to_string(&json).unwrap();
    assert!(j.contains("\"event\":\"block_alloc\""), "{j}");
    let _ = std::fs::remove_file(&json);
    // The worker's port-block event reached the log through the event queue.
    assert!(
        r.stderr.contains(
            "port block allocated: subscriber 100.64.0.2 public 203.0.113.1 ports 1024-1031"
        ),
        "no port-block event in the log:\n{}",
        r.stderr
    );
    assert_eq!(r.counters["log_event_dropped"], 0);
    assert!(
        r.stderr.contains("mac 02:70:63:61:70:00"),
        "pcap PMD MACs changed:\n{}",
        r.stderr
    );

    let out = read_pcap(&r.dir.join("out_tx.pcap"));
    let ip_out: Vec<_> = out.iter().filter(|f| f[12..14] == [8, 0]).collect();
    assert_eq!(
        ip_out.len(),
        3,
        "three translated frames expected on the outside: {out:?}"
    );
    let mut ports = vec![];
    for f in &ip_out {
        assert_eq!(&f[0..6], &NH_MAC);
        assert_eq!(&f[26..30], &PUB, "source must be the pool address");
        let port = u16::from_be_bytes([f[34], f[35]]);
        let expected = match f[23] {
            17 => udp(OUT_MAC, NH_MAC, PUB, port, SERVER, 53, 63, b"query"),
            6 => tcp_syn(OUT_MAC, NH_MAC, PUB, port, SERVER, 80, 63),
            1 => {
                let id = u16::from_be_bytes([f[38], f[39]]);
                echo(OUT_MAC, NH_MAC, PUB, SERVER, 63, true, id)
            }
            p => panic!("unexpected protocol {p}"),
        };
        assert_eq!(**f, expected, "translated frame (protocol {})", f[23]);
        ports.push(port);
    }
    let inb = read_pcap(&r.dir.join("in_tx.pcap"));
    let ip_in: Vec<_> = inb.iter().filter(|f| f[12..14] == [8, 0]).collect();
    assert_eq!(
        ip_in.len(),
        3,
        "three de-translated replies expected on the inside: {inb:?}"
    );
    for f in &ip_in {
        let expected = match f[23] {
            17 => udp(IN_MAC, SUB_MAC, SERVER, 53, SUB, 5000, 63, b"answer"),
            6 => tcp_synack(IN_MAC, SUB_MAC, SERVER, 80, SUB, 40000, 63),
            _ => echo(IN_MAC, SUB_MAC, SERVER, SUB, 63, false, 0x4242),
        };
        assert_eq!(**f, expected);
    }
    let c = &r.counters;
    assert_eq!(c["nat_out"], 3);
    assert_eq!(c["nat_in"], 3);
    assert_eq!(c["drop_no_binding"], 21, "the other 7 ports x 3 protocols");
    assert_eq!(c["binding_created"], 3);
    assert_eq!(c["block_allocated"], 1);
    assert_eq!(c["arp_reply_sent"], 3);
    assert_eq!(
        c["port_outside_ipackets"],
        u64::try_from(outside.len()).unwrap()
    );
    std::fs::remove_dir_all(&r.dir).unwrap();
}

#[test]
fn cgnatd_drops_garbage_and_keeps_running() {
    let mut inside = vec![arp_request(SUB_MAC, SUB, [100, 64, 0, 1])];
    for len in [0usize, 1, 13, 14, 20, 33, 34, 41] {
        let f = udp(SUB_MAC, IN_MAC, SUB, 5000, SERVER, 53, 64, b"x");
        inside.push(f[..len.min(f.len())].to_vec());
    }
    let mut bad = udp(SUB_MAC, IN_MAC, SUB, 5000, SERVER, 53, 64, b"x");
    bad[24] ^= 0xff;
    inside.push(bad);
    let r = run_cgnatd("garbage", &inside, &[], "");
    let c = &r.counters;
    assert_eq!(c["rx_inside"], u64::try_from(inside.len()).unwrap());
    assert_eq!(c["drop_ipv4_checksum"], 1);
    assert!(c["drop_eth_truncated"] >= 2);
    assert_eq!(c["nat_out"], 0);
    std::fs::remove_dir_all(&r.dir).unwrap();
}

/// Two workers on two-queue pcap ports, everything received on queue 0 (as a NIC without
/// usable RSS would): the subscriber owned by worker 1 is handed over, gets a port from
/// worker 1's block, and its replies — received by worker 0 too — are handed to worker 1 and
/// leave on worker 1's TX queue.
#[test]
fn two_workers_hand_subscribers_and_return_traffic_to_their_owner() {
    use dataplane::steer::subscriber_owner;
    let u32_of = |a: [u8; 4]| u32::from_be_bytes(a);
    let subs: Vec<[u8; 4]> = (2..40u8).map(|i| [100, 64, 0, i]).collect();
    let a = *subs
        .iter()
        .find(|&&s| subscriber_owner(u32_of(s), 2) == 0)
        .unwrap();
    let b = *subs
        .iter()
        .find(|&&s| subscriber_owner(u32_of(s), 2) == 1)
        .unwrap();
    let mut inside = vec![];
    for s in [a, b] {
        inside.push(arp_request(SUB_MAC, s, [100, 64, 0, 1]));
    }
    for s in [a, b] {
        inside.push(udp(SUB_MAC, IN_MAC, s, 5000, SERVER, 53, 64, b"query"));
        inside.push(echo(SUB_MAC, IN_MAC, s, SERVER, 64, true, 0x4242));
    }
    let mut outside = vec![
        arp_request(NH_MAC, [198, 51, 100, 254], [198, 51, 100, 1]),
        arp_request(NH_MAC, SERVER, [198, 51, 100, 1]),
    ];
    // Block 0 (1024-1031) is worker 0's first block, block 1 (1032-1039) worker 1's.
    for port in 1024..1040u16 {
        outside.push(udp(NH_MAC, OUT_MAC, SERVER, 53, PUB, port, 64, b"answer"));
        outside.push(echo(NH_MAC, OUT_MAC, SERVER, PUB, 64, false, port));
    }
    let r = run_cgnatd_queues(
        "workers2",
        &[inside, vec![]],
        &[outside, vec![]],
        "steering = \"auto\"\n",
    );
    let c = &r.counters;
    assert!(
        r.stderr.contains("inside steering: software handoff"),
        "the pcap PMD has no RSS: software steering must be announced:\n{}",
        r.stderr
    );
    assert_eq!(c["steering_inside_nic"], 0);
    assert!(
        r.stderr.contains("outside steering: software handoff") && r.stderr.contains("rte_flow"),
        "the pcap PMD has no rte_flow: the refusal must be announced:\n{}",
        r.stderr
    );
    assert_eq!(c["steering_outside_nic"], 0);
    assert_eq!(c["nat_out"], 4);
    assert_eq!(c["nat_in"], 4, "{c:?}");
    assert_eq!(c["handoff_inside"], 2, "b's two packets");
    assert_eq!(c["handoff_outside"], 16, "replies to worker 1's block");
    assert_eq!(c["handoff_arp"], 4);
    assert_eq!(c["drop_no_binding"], 28);
    assert_eq!(c["drop_handoff_ring_full"], 0);
    assert_eq!(c["drop_handoff_queue_full"], 0);
    // Each subscriber's traffic left on its owner's TX queues, both directions.
    for (q, s, ports) in [("", a, 1024..1032u16), ("1", b, 1032..1040)] {
        let out = read_pcap(&r.dir.join(format!("out_tx{q}.pcap")));
        let ip_out: Vec<_> = out.iter().filter(|f| f[12..14] == [8, 0]).collect();
        assert_eq!(ip_out.len(), 2, "queue {q:?}: {out:?}");
        for f in ip_out {
            assert_eq!(&f[26..30], &PUB);
            let p = u16::from_be_bytes([f[34], f[35]]);
            let p = if f[23] == 1 {
                u16::from_be_bytes([f[38], f[39]])
            } else {
                p
            };
            assert!(ports.contains(&p), "port {p} of {s:?} outside {ports:?}");
        }
        let inb = read_pcap(&r.dir.join(format!("in_tx{q}.pcap")));
        let ip_in: Vec<_> = inb.iter().filter(|f| f[12..14] == [8, 0]).collect();
        assert_eq!(ip_in.len(), 2, "queue {q:?}: {inb:?}");
        for f in ip_in {
            assert_eq!(&f[30..34], &s, "reply for {s:?} on queue {q:?}");
            let expected = match f[23] {
                17 => udp(IN_MAC, SUB_MAC, SERVER, 53, s, 5000, 63, b"answer"),
                _ => echo(IN_MAC, SUB_MAC, SERVER, s, 63, false, 0x4242),
            };
            assert_eq!(**f, expected);
        }
    }
    std::fs::remove_dir_all(&r.dir).unwrap();
}

/// A flood of new sessions with per-session logging on, no collector listening and a tiny
/// event queue: every packet is still translated (the workers never wait for the control
/// thread); the events that did not fit are dropped and counted.
#[test]
fn session_flood_with_no_collector_drops_events_not_packets() {
    // First a burst of frames for another MAC, so the server's ARP (outside queue) is
    // learned before the flood; then 120 subscribers x 8 flows (each subscriber's one 8-port
    // block).
    let mut inside: Vec<Vec<u8>> = (0..64)
        .map(|_| udp(SUB_MAC, [0x0a; 6], SUB, 1, SERVER, 53, 64, b"not for us"))
        .collect();
    let mut flows = 0u64;
    for i in 0..120u8 {
        for p in 0..8u16 {
            let s = [100, 64, 1, i];
            inside.push(udp(
                SUB_MAC,
                IN_MAC,
                s,
                10_000 + p,
                SERVER,
                53,
                64,
                b"flood",
            ));
            flows += 1;
        }
    }
    let outside = vec![arp_request(NH_MAC, SERVER, [198, 51, 100, 1])];
    // Nothing listens on these ports (bound and closed again to find free ones).
    let dead = |_: ()| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let extra = format!(
        "steering = \"software\"\n[logging]\nsessions = true\nsession_destinations = true\nevent_queue = 64\n\
         ipfix_collector = \"{}\"\nsyslog_server = \"{}\"\n",
        dead(()),
        dead(())
    );
    let r = run_cgnatd_queues("flood", &[inside, vec![]], &[outside, vec![]], &extra);
    let c = &r.counters;
    assert_eq!(c["nat_out"], flows, "{c:?}");
    assert_eq!(c["binding_created"], flows);
    assert_eq!(c["drop_arp_queue_full"], 0);
    let handled = c["log_events_handled"];
    let lost = c["log_event_queue_full"] + c["log_event_dropped"];
    assert!(
        lost > 0,
        "a 64-event queue cannot absorb {flows} session events: {c:?}"
    );
    // Every event is accounted for: handled by the control thread or dropped and counted
    // (session creations, 120 port-block allocations, and at shutdown 120 releases).
    assert_eq!(handled + lost, flows + 240, "{c:?}");
    std::fs::remove_dir_all(&r.dir).unwrap();
}

/// Asking for more workers than the device has queues is a clear start-up error naming the
/// port and both numbers, exit code 1 — not a crash, not a hang.
#[test]
fn too_few_queues_is_a_clear_startup_error() {
    let (dir, cfg) = write_config("queues", &[vec![]], &[vec![]], 2, "");
    let out = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("requested 2 RX / 2 TX queues but the device supports at most 1 RX / 1 TX"),
        "{err}"
    );
    let _ = std::fs::remove_dir(format!(
        "/var/run/dpdk/cgnat-test-queues-{}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The JSON-lines log outlives the process: a second cgnatd started on the same file rebuilds
/// its port-block registry from it (the first run's allocation and its shutdown release), so
/// abuse lookups for times before the restart keep working.
#[test]
fn port_block_registry_is_restored_from_the_json_log_after_a_restart() {
    let json =
        std::env::temp_dir().join(format!("cgnat-dpdk-restart-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let extra = format!("[logging]\njson_file = \"{}\"\n", json.display());
    let inside = vec![
        arp_request(SUB_MAC, SUB, [100, 64, 0, 1]),
        udp(SUB_MAC, IN_MAC, SUB, 5000, SERVER, 53, 64, b"query"),
    ];
    let outside = vec![arp_request(NH_MAC, [198, 51, 100, 254], [198, 51, 100, 1])];
    let r1 = run_cgnatd("restart1", &inside, &outside, &extra);
    assert_eq!(r1.counters["block_allocated"], 1);
    let r2 = run_cgnatd("restart2", &[], &[], &extra);
    assert!(
        r2.stderr
            .contains("port-block registry: 1 allocations and 1 releases restored from 1 file(s)"),
        "{}",
        r2.stderr
    );
    let _ = std::fs::remove_file(&json);
    for r in [r1, r2] {
        std::fs::remove_dir_all(&r.dir).unwrap();
    }
}
