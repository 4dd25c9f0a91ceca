//! Tests of the config file contract: the documented example, defaults, one test per class of
//! operator mistake (each error must name the key and the problem on one line), and property
//! tests (no input panics the parser; string forms round-trip).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use control::config::{
    ArpConfig, DataplaneConfig, EalConfig, Filtering, FragmentsConfig, InsideConfig, L4Proto,
    LimitsConfig, NatConfig, OutsideConfig, PoolMode, PortTimeout, SteeringMode, TimeoutsConfig,
};
use control::{
    AlgSectionConfig, AlgSwitch, Config, ConfigError, H323Switch, Ipv4Prefix, PoolConfig,
    PoolEntry, PptpAlgConfig, RtspAlgConfig, RtspDestination, SipAlgConfig,
};
use proptest::prelude::*;

const FULL: &str = include_str!("data/full.toml");
const MINIMAL: &str = include_str!("data/minimal.toml");

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("valid IPv4 address")
}

fn pfx(s: &str) -> Ipv4Prefix {
    s.parse().expect("valid IPv4 prefix")
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn full_example_parses_to_expected_struct() {
    let cfg = Config::from_toml_str(FULL).unwrap();
    let expected = Config {
        eal: EalConfig {
            args: args(&[
                "-l",
                "0-1",
                "--no-huge",
                "-m",
                "512",
                "--file-prefix",
                "cgnat-lab",
                "--vdev",
                "net_af_packet0,iface=cgn-in",
                "--vdev",
                "net_af_packet1,iface=cgn-out",
            ]),
        },
        inside: InsideConfig {
            device: "net_af_packet0".into(),
            address: Ipv4Prefix {
                addr: ip("100.64.0.1"),
                len: 10,
            },
            next_hop: Some(ip("100.64.0.254")),
            subscribers: vec![pfx("100.64.0.0/10")],
            mtu: 1500,
        },
        outside: OutsideConfig {
            device: "net_af_packet1".into(),
            address: pfx("198.51.100.1/24"),
            next_hop: Some(ip("198.51.100.2")),
            mtu: 1500,
        },
        pool: PoolConfig {
            prefixes: vec![PoolEntry::Prefix(pfx("203.0.113.0/24"))],
            exclude: vec![],
            block_size: 512,
            max_blocks_per_subscriber: 4,
            port_min: 1024,
            port_max: 65535,
            filtering: Filtering::EndpointIndependent,
            mode: PoolMode::Dynamic,
            ports_per_subscriber: 0,
            preserve_parity: false,
            hold_down_secs: 120,
        },
        dataplane: DataplaneConfig {
            workers: 1,
            max_bindings_per_worker: 1_048_576,
            max_subscribers_per_worker: 65536,
            mbufs: 16383,
            rx_desc: 1024,
            tx_desc: 1024,
            burst: 32,
            steering: SteeringMode::Auto,
            handoff_ring_size: 1024,
        },
        arp: ArpConfig {
            entry_timeout_secs: 300,
            request_interval_ms: 1000,
            max_pending_per_host: 4,
            max_pending_total: 256,
        },
        timeouts: TimeoutsConfig {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            tcp_syn_hold: 6,
            icmp: 60,
            fragment: 2,
            port: vec![PortTimeout {
                protocol: L4Proto::Udp,
                port: 53,
                timeout: 10,
            }],
        },
        limits: LimitsConfig {
            max_sessions_per_subscriber: 10000,
            icmp_errors_per_second: 100,
        },
        fragments: FragmentsConfig {
            max_datagrams: 4096,
            max_held: 256,
            max_held_per_datagram: 16,
        },
        nat: NatConfig {
            no_translate: vec![pfx("192.0.2.0/24")],
            tcp_mss_clamp: 0,
        },
        logging: Default::default(),
        api: Default::default(),
        alg: AlgSectionConfig {
            ftp: AlgSwitch {
                enabled: true,
                ports: vec![21],
            },
            tftp: AlgSwitch {
                enabled: false,
                ports: vec![69],
            },
            h323: H323Switch {
                enabled: false,
                ports: vec![1720],
                ras_ports: vec![1719],
            },
            rtsp: RtspAlgConfig {
                enabled: false,
                ports: vec![554],
                destination: RtspDestination::Refuse,
            },
            sip: SipAlgConfig {
                enabled: false,
                ports: vec![5060],
                max_expectations_per_subscriber: 16,
                register_max_secs: 3600,
            },
            max_expectations_per_worker: 4096,
            max_sessions_per_worker: 4096,
            max_expectations_per_session: 1,
            expectation_timeout_secs: 300,
            pptp: PptpAlgConfig {
                enabled: false,
                ports: vec![1723],
                gre_timeout_secs: 300,
            },
        },
    };
    assert_eq!(cfg, expected);
    assert_eq!(cfg.pool.blocks_per_address(), 126);
    assert_eq!(cfg.pool.address_count(), 256);
    assert_eq!(cfg.inside.address.network(), pfx("100.64.0.0/10"));
}

#[test]
fn load_reads_the_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/full.toml");
    assert_eq!(
        Config::load(&path).unwrap(),
        Config::from_toml_str(FULL).unwrap()
    );
}

#[test]
fn minimal_file_gets_all_defaults() {
    let cfg = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(cfg.eal.args, args(&["--no-huge"]));
    assert_eq!(cfg.inside.next_hop, None);
    assert_eq!(cfg.inside.subscribers, vec![pfx("100.64.0.0/10")]);
    assert_eq!(cfg.inside.mtu, 1500);
    assert_eq!(cfg.outside.next_hop, None);
    assert_eq!(cfg.outside.mtu, 1500);
    assert_eq!(cfg.pool.exclude, vec![]);
    assert_eq!(cfg.pool.block_size, 512);
    assert_eq!(cfg.pool.max_blocks_per_subscriber, 4);
    assert_eq!(cfg.pool.port_min, 1024);
    assert_eq!(cfg.pool.port_max, 65535);
    assert_eq!(cfg.pool.filtering, Filtering::EndpointIndependent);
    assert_eq!(cfg.pool.mode, PoolMode::Dynamic);
    assert_eq!(cfg.pool.ports_per_subscriber, 0);
    assert!(!cfg.pool.preserve_parity);
    assert_eq!(cfg.pool.hold_down_secs, 120);
    assert_eq!(cfg.pool.hold_down(), std::time::Duration::from_secs(120));
    assert_eq!(cfg.dataplane, DataplaneConfig::default());
    assert_eq!(cfg.arp, ArpConfig::default());
    assert_eq!(
        cfg.timeouts,
        TimeoutsConfig {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            tcp_syn_hold: 6,
            icmp: 60,
            fragment: 2,
            port: vec![],
        }
    );
    assert_eq!(cfg.timeouts, TimeoutsConfig::default());
    assert_eq!(
        cfg.limits,
        LimitsConfig {
            max_sessions_per_subscriber: 10000,
            icmp_errors_per_second: 100,
        }
    );
    assert_eq!(cfg.limits, LimitsConfig::default());
    assert_eq!(
        cfg.fragments,
        FragmentsConfig {
            max_datagrams: 4096,
            max_held: 256,
            max_held_per_datagram: 16,
        }
    );
    assert_eq!(cfg.fragments, FragmentsConfig::default());
    assert_eq!(cfg.nat.no_translate, vec![]);
    assert_eq!(cfg.nat.tcp_mss_clamp, 0);
    assert_eq!(cfg.nat, NatConfig::default());
    assert_eq!(cfg.deterministic_ports_per_subscriber(), None);
    // The full example spells out exactly the defaults (plus the optional next hops, one port
    // timeout override and one no-translate prefix).
    let mut full = Config::from_toml_str(FULL).unwrap();
    full.eal = cfg.eal.clone();
    full.inside.next_hop = None;
    full.outside.next_hop = None;
    full.timeouts.port.clear();
    full.nat.no_translate.clear();
    assert_eq!(full, cfg);
}

#[test]
fn io_error_is_one_readable_line() {
    let e = Config::load(Path::new("lab/does-not-exist.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "io: cannot read lab/does-not-exist.toml: No such file or directory"
    );
    assert_eq!(e.key(), None);
    assert!(matches!(
        e,
        ConfigError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
}

// ---- building bad configs from the minimal one ----

/// One edit of the minimal config.
#[derive(Clone, Copy)]
enum Edit<'a> {
    /// Set (or add) `key = value` in `[section]` (the section is created if absent).
    Set(&'a str, &'a str, &'a str),
    /// Remove `key` from `[section]`.
    Del(&'a str, &'a str),
    /// Remove the whole section.
    DelSection(&'a str),
}
use Edit::*;

fn build(edits: &[Edit]) -> String {
    let mut sections: Vec<(String, Vec<(String, String)>)> = vec![
        (
            "eal".into(),
            vec![("args".into(), r#"["--no-huge"]"#.into())],
        ),
        (
            "inside".into(),
            vec![
                ("device".into(), r#""net_af_packet0""#.into()),
                ("address".into(), r#""100.64.0.1/10""#.into()),
            ],
        ),
        (
            "outside".into(),
            vec![
                ("device".into(), r#""net_af_packet1""#.into()),
                ("address".into(), r#""198.51.100.1/24""#.into()),
            ],
        ),
        (
            "pool".into(),
            vec![("prefixes".into(), r#"["203.0.113.0/24"]"#.into())],
        ),
    ];
    for e in edits {
        match *e {
            Set(s, k, v) => {
                let i = match sections.iter().position(|(n, _)| n == s) {
                    Some(i) => i,
                    None => {
                        sections.push((s.into(), vec![]));
                        sections.len() - 1
                    }
                };
                let kv = &mut sections[i].1;
                match kv.iter_mut().find(|(kk, _)| kk == k) {
                    Some(slot) => slot.1 = v.into(),
                    None => kv.push((k.into(), v.into())),
                }
            }
            Del(s, k) => {
                for (n, kv) in &mut sections {
                    if n == s {
                        kv.retain(|(kk, _)| kk != k);
                    }
                }
            }
            DelSection(s) => sections.retain(|(n, _)| n != s),
        }
    }
    let mut out = String::new();
    for (n, kv) in sections {
        out.push_str(&format!("[{n}]\n"));
        for (k, v) in kv {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn build_without_edits_is_valid() {
    Config::from_toml_str(&build(&[])).unwrap();
}

/// (edits, expected key, expected text in the message)
type Case<'a> = (&'a [Edit<'a>], Option<&'a str>, &'a str);

const BAD: &[Case] = &[
    // unknown keys, in every section, and unknown sections
    (&[Set("eal", "foo", "1")], Some("eal.foo"), r#"unknown key "foo" in [eal] (line 3)"#),
    (&[Set("inside", "gateway", "1")], Some("inside.gateway"), r#"unknown key "gateway" in [inside]"#),
    (&[Set("outside", "foo", "1")], Some("outside.foo"), r#"unknown key "foo" in [outside]"#),
    (&[Set("pool", "foo", "1")], Some("pool.foo"), r#"unknown key "foo" in [pool] (line 14); valid keys: prefixes, exclude, block_size"#),
    (&[Set("dataplane", "worker", "2")], Some("dataplane.worker"), r#"unknown key "worker" in [dataplane]"#),
    (&[Set("arp", "timeout", "2")], Some("arp.timeout"), r#"unknown key "timeout" in [arp]"#),
    (&[Set("timeout", "udp", "2")], Some("timeout"), "unknown section [timeout] (line 15); valid sections: eal, inside"),
    // missing required keys and sections
    (&[Del("eal", "args")], Some("eal.args"), r#"missing required key "args" in [eal] (line 1)"#),
    (&[Del("inside", "device")], Some("inside.device"), r#"missing required key "device" in [inside] (line 4)"#),
    (&[Del("outside", "address")], Some("outside.address"), r#"missing required key "address" in [outside]"#),
    (&[Del("pool", "prefixes")], Some("pool.prefixes"), r#"missing required key "prefixes" in [pool]"#),
    (&[DelSection("outside")], Some("outside"), "missing required section [outside]"),
    (&[DelSection("eal")], Some("eal"), "missing required section [eal]"),
    // wrong types
    (&[Set("dataplane", "workers", r#""two""#)], Some("dataplane.workers"), r#"invalid type: string "two", expected an integer between 0 and 65535"#),
    (&[Set("pool", "port_max", "70000")], Some("pool.port_max"), "invalid value: integer `70000`, expected an integer between 0 and 65535"),
    (&[Set("eal", "args", r#"["-l", 3]"#)], Some("eal.args"), "invalid type: integer `3`, expected a string"),
    (&[Set("pool", "prefixes", r#""203.0.113.0/24""#)], Some("pool.prefixes"), "expected an array"),
    (&[Set("arp", "entry_timeout_secs", "-1")], Some("arp.entry_timeout_secs"), "invalid value: integer `-1`"),
    // bad prefixes and addresses
    (&[Set("inside", "address", r#""100.64.0.1/33""#)], Some("inside.address"), r#"inside.address: invalid IPv4 prefix "100.64.0.1/33": prefix length must be 0..=32 (line 6)"#),
    (&[Set("inside", "address", r#""100.64.0.1""#)], Some("inside.address"), "expected address/length"),
    (&[Set("outside", "next_hop", r#""198.51.100""#)], Some("outside.next_hop"), r#"invalid IPv4 address "198.51.100""#),
    (&[Set("pool", "prefixes", r#"["203.0.113.0/24", "203.0.113.300"]"#)], Some("pool.prefixes"), r#"invalid pool entry "203.0.113.300""#),
    (&[Set("pool", "prefixes", r#"["203.0.113.20-203.0.113.10"]"#)], Some("pool.prefixes"), "first address is after the last"),
    (&[Set("pool", "prefixes", r#"["203.0.113.1/24"]"#)], Some("pool.prefixes"), "203.0.113.1/24 has host bits set (did you mean 203.0.113.0/24?)"),
    (&[Set("pool", "prefixes", r#"["224.0.0.0/24"]"#)], Some("pool.prefixes"), "multicast"),
    (&[Set("inside", "address", r#""100.64.0.0/10""#)], Some("inside.address"), "network address"),
    (&[Set("inside", "address", r#""100.64.0.1/32""#)], Some("inside.address"), "/31 or shorter"),
    (&[Set("outside", "address", r#""127.0.0.1/8""#)], Some("outside.address"), "loopback"),
    // prefix relations
    (&[Set("outside", "address", r#""100.64.1.1/24""#)], Some("outside.address"), "on-link prefix 100.64.1.0/24 overlaps the inside on-link prefix 100.64.0.0/10"),
    (&[Set("pool", "prefixes", r#"["198.51.100.128/25"]"#)], Some("pool.prefixes"), "198.51.100.128/25 overlaps the outside on-link prefix 198.51.100.0/24"),
    (&[Set("pool", "prefixes", r#"["100.64.0.10-100.64.0.20"]"#)], Some("pool.prefixes"), "overlaps the inside on-link prefix"),
    (&[Set("inside", "next_hop", r#""100.64.0.254""#), Set("inside", "subscribers", r#"["10.0.0.0/8"]"#), Set("pool", "prefixes", r#"["10.1.0.0/24"]"#)], Some("pool.prefixes"), "overlaps the subscriber prefix 10.0.0.0/8"),
    (&[Set("inside", "subscribers", r#"["10.0.0.0/8"]"#)], Some("inside.subscribers"), "10.0.0.0/8 is not inside the on-link prefix 100.64.0.0/10 (inside.address), so inside.next_hop must be set"),
    (&[Set("inside", "subscribers", "[]")], Some("inside.subscribers"), "at least one prefix"),
    (&[Set("inside", "next_hop", r#""100.64.0.254""#), Set("inside", "subscribers", r#"["198.51.100.0/25"]"#)], Some("inside.subscribers"), "overlaps the outside on-link prefix"),
    (&[Set("inside", "next_hop", r#""10.0.0.1""#)], Some("inside.next_hop"), "10.0.0.1 is not on-link: it must be inside 100.64.0.0/10 (inside.address)"),
    (&[Set("outside", "next_hop", r#""198.51.100.1""#)], Some("outside.next_hop"), "the appliance's own address"),
    (&[Set("outside", "next_hop", r#""198.51.100.255""#)], Some("outside.next_hop"), "broadcast"),
    // devices
    (&[Set("outside", "device", r#""net_af_packet0""#)], Some("outside.device"), r#""net_af_packet0" is already used by inside.device"#),
    (&[Set("inside", "device", r#""""#)], Some("inside.device"), "must not be empty"),
    (&[Set("eal", "args", r#"["-l", ""]"#)], Some("eal.args"), "argument 2 is an empty string"),
    // pool size and exclusions
    (&[Set("pool", "prefixes", "[]")], Some("pool.prefixes"), "must list at least one"),
    (&[Set("pool", "exclude", r#"["203.0.113.0/25", "203.0.113.128-203.0.113.255"]"#)], Some("pool.exclude"), "removes every pool address; the pool is empty"),
    (&[Set("pool", "exclude", r#"["192.0.2.1"]"#)], Some("pool.exclude"), "192.0.2.1/32 is not in the pool"),
    (&[Set("pool", "prefixes", r#"["11.0.0.0/15"]"#)], Some("pool.prefixes"), "the pool holds 131072 addresses after exclusions; at most 65536"),
    // ports and blocks
    (&[Set("pool", "block_size", "0")], Some("pool.block_size"), "pool.block_size: must be between 8 and 64512 (got 0)"),
    (&[Set("pool", "block_size", "3")], Some("pool.block_size"), "pool.block_size: must be between 8 and 64512 (got 3)"),
    (&[Set("pool", "block_size", "70000")], Some("pool.block_size"), "must be between 8 and 64512 (got 70000)"),
    (&[Set("pool", "port_max", "2047"), Set("pool", "block_size", "2048")], Some("pool.block_size"), "2048 is larger than the 1024 ports"),
    (&[Set("pool", "port_min", "80")], Some("pool.port_min"), "pool.port_min: must be between 1024 and 65535 (got 80)"),
    (&[Set("pool", "port_min", "5000"), Set("pool", "port_max", "4000")], Some("pool.port_max"), "must be at least pool.port_min = 5000 (got 4000)"),
    (&[Set("pool", "max_blocks_per_subscriber", "0")], Some("pool.max_blocks_per_subscriber"), "must be between 1 and 126"),
    (&[Set("pool", "max_blocks_per_subscriber", "127")], Some("pool.max_blocks_per_subscriber"), "(got 127)"),
    // dataplane
    (&[Set("dataplane", "workers", "0")], Some("dataplane.workers"), "dataplane.workers: must be between 1 and 64 (got 0)"),
    (&[Set("dataplane", "workers", "65")], Some("dataplane.workers"), "(got 65)"),
    (&[Set("dataplane", "steering", r#""rss""#)], Some("dataplane.steering"), "unknown variant `rss`, expected `auto` or `software`"),
    (&[Set("dataplane", "handoff_ring_size", "1000")], Some("dataplane.handoff_ring_size"), "must be a power of two between 64 and 65536 (got 1000)"),
    (&[Set("logging", "syslog_file_keep", "0")], Some("logging.syslog_file_keep"), "must be between 1 and 100 (got 0)"),
    (&[Set("logging", "syslog_file", r#""/tmp/x.log""#), Set("logging", "json_file", r#""/tmp/x.log""#)], Some("logging.syslog_file"), "must differ from logging.json_file"),
    (&[Set("logging", "event_queue", "10")], Some("logging.event_queue"), "must be between 64 and 1048576 (got 10)"),
    (&[Set("logging", "session_destinations", "true")], Some("logging.sessions"), "have no effect unless logging.sessions = true"),
    (&[Set("logging", "sessions", "true"), Set("logging", "session_prefixes", r#"["100.64.0.1/24"]"#)], Some("logging.session_prefixes"), "100.64.0.1/24"),
    (&[Set("dataplane", "workers", "8"), Set("pool", "block_size", "16128")], Some("dataplane.workers"), "8 workers need at least 8 port blocks per public address"),
    (&[Set("dataplane", "burst", "0")], Some("dataplane.burst"), "must be between 1 and 64 (got 0)"),
    (&[Set("dataplane", "burst", "128")], Some("dataplane.burst"), "(got 128)"),
    (&[Set("dataplane", "rx_desc", "1000")], Some("dataplane.rx_desc"), "must be a power of two between 64 and 4096 (got 1000)"),
    (&[Set("dataplane", "tx_desc", "8192")], Some("dataplane.tx_desc"), "(got 8192)"),
    (&[Set("dataplane", "mbufs", "1000")], Some("dataplane.mbufs"), "must be at least 5120 = 2 ports x (rx_desc 1024 + tx_desc 1024) x 1 workers + 1024"),
    (&[Set("dataplane", "workers", "4")], Some("dataplane.mbufs"), "must be at least 17408"),
    (&[Set("dataplane", "max_bindings_per_worker", "0")], Some("dataplane.max_bindings_per_worker"), "must be between 1 and 67108864 (got 0)"),
    (&[Set("dataplane", "max_bindings_per_worker", "67108865")], Some("dataplane.max_bindings_per_worker"), "(got 67108865)"),
    (&[Set("dataplane", "max_subscribers_per_worker", "0")], Some("dataplane.max_subscribers_per_worker"), "(got 0)"),
    // mtu and arp
    (&[Set("inside", "mtu", "100")], Some("inside.mtu"), "inside.mtu: must be between 576 and 9000 (got 100)"),
    (&[Set("outside", "mtu", "9001")], Some("outside.mtu"), "(got 9001)"),
    (&[Set("arp", "entry_timeout_secs", "0")], Some("arp.entry_timeout_secs"), "must be between 1 and 86400 (got 0)"),
    (&[Set("arp", "request_interval_ms", "0")], Some("arp.request_interval_ms"), "(got 0)"),
    (&[Set("arp", "max_pending_per_host", "0")], Some("arp.max_pending_per_host"), "(got 0)"),
    (&[Set("arp", "max_pending_total", "0")], Some("arp.max_pending_total"), "(got 0)"),
    (&[Set("arp", "max_pending_per_host", "300")], Some("arp.max_pending_per_host"), "must not exceed arp.max_pending_total = 256 (got 300)"),
    // not TOML at all
    (&[Set("pool", "block_size", "")], None, "syntax error at line 14, column 14: "),
    // [pool]: filtering, mode, parity, hold-down
    (&[Set("pool", "filtering", r#""endpoint-independant""#)], Some("pool.filtering"), "pool.filtering: unknown variant `endpoint-independant`, expected one of `endpoint-independent`, `address-dependent`, `address-and-port-dependent` (line 14)"),
    (&[Set("pool", "filtering", r#""EIF""#)], Some("pool.filtering"), "unknown variant `EIF`"),
    (&[Set("pool", "mode", r#""determinstic""#)], Some("pool.mode"), "pool.mode: unknown variant `determinstic`, expected `dynamic` or `deterministic`"),
    (&[Set("pool", "preserve_parity", "1")], Some("pool.preserve_parity"), "invalid type: integer `1`, expected a boolean"),
    (&[Set("pool", "hold_down_secs", "4000")], Some("pool.hold_down_secs"), "pool.hold_down_secs: must be between 0 and 3600 (got 4000)"),
    (&[Set("pool", "ports_per_subscriber", "1000")], Some("pool.ports_per_subscriber"), r#"pool.ports_per_subscriber: applies only to pool.mode = "deterministic"; remove it or set it to 0 (got 1000)"#),
    (&[Set("pool", "ports_per_subscriber", "70000")], Some("pool.ports_per_subscriber"), "expected an integer between 0 and 65535"),
    // deterministic mode: the default subscribers (100.64.0.0/10, 4 Mi addresses) on a /24
    (&[Set("pool", "mode", DET)], Some("pool.mode"), "pool.mode: deterministic mode gives each subscriber address only 3 ports: 64512 ports (pool.port_min..=pool.port_max) / sharing ratio 16384 (= ceil(4194304 subscriber addresses in inside.subscribers / 256 pool addresses)); at least 64 are needed"),
    (&[Set("pool", "mode", DET), Set("pool", "prefixes", r#"["203.0.113.7"]"#)], Some("pool.mode"), "only 0 ports"),
    (&[Set("pool", "mode", DET), Set("inside", "subscribers", SUB16), Set("pool", "ports_per_subscriber", "300")], Some("pool.ports_per_subscriber"), "pool.ports_per_subscriber: 300 ports for each subscriber address do not fit: at most 252 = 64512 ports (pool.port_min..=pool.port_max) / sharing ratio 256 (= ceil(65536 subscriber addresses in inside.subscribers / 256 pool addresses))"),
    (&[Set("pool", "mode", DET), Set("inside", "subscribers", SUB16), Set("pool", "port_max", "17406")], Some("pool.mode"), "only 63 ports: 16383 ports"),
    (&[Set("pool", "mode", DET), Set("inside", "subscribers", r#"["100.64.0.0/16", "100.64.1.0/24"]"#)], Some("inside.subscribers"), "inside.subscribers: 100.64.1.0/24 overlaps 100.64.0.0/16; in deterministic mode (pool.mode) each subscriber address must be listed once"),
    (&[Set("pool", "mode", DET), Set("inside", "subscribers", SUB16), Set("pool", "ports_per_subscriber", "1"), Set("pool", "preserve_parity", "true")], Some("pool.preserve_parity"), "needs at least 2 ports per subscriber address, one of each parity (got 1)"),
    // [timeouts]: RFC minimums and ranges
    (&[Set("timeouts", "udp", "119")], Some("timeouts.udp"), "timeouts.udp: must be at least 120 s (RFC 4787 REQ-5) (got 119)"),
    (&[Set("timeouts", "udp", "30")], Some("timeouts.udp"), "timeouts.udp: must be at least 120 s (RFC 4787 REQ-5) (got 30)"),
    (&[Set("timeouts", "udp", "604801")], Some("timeouts.udp"), "timeouts.udp: must be at most 604800 s (got 604801)"),
    (&[Set("timeouts", "tcp_established", "7000")], Some("timeouts.tcp_established"), "timeouts.tcp_established: must be at least 7440 s (RFC 5382 REQ-5) (got 7000)"),
    (&[Set("timeouts", "tcp_transitory", "239")], Some("timeouts.tcp_transitory"), "timeouts.tcp_transitory: must be at least 240 s (RFC 5382 REQ-5) (got 239)"),
    (&[Set("timeouts", "tcp_syn_hold", "5")], Some("timeouts.tcp_syn_hold"), "timeouts.tcp_syn_hold: must be at least 6 s (RFC 5382 REQ-4) (got 5)"),
    (&[Set("timeouts", "tcp_syn_hold", "61")], Some("timeouts.tcp_syn_hold"), "timeouts.tcp_syn_hold: must be at most 60 s (got 61)"),
    (&[Set("timeouts", "icmp", "59")], Some("timeouts.icmp"), "timeouts.icmp: must be at least 60 s (RFC 5508 REQ-2) (got 59)"),
    (&[Set("timeouts", "fragment", "1")], Some("timeouts.fragment"), "timeouts.fragment: must be at least 2 s (RFC 8512) (got 1)"),
    (&[Set("timeouts", "fragment", "61")], Some("timeouts.fragment"), "must be at most 60 s (got 61)"),
    (&[Set("timeouts", "udp", "-1")], Some("timeouts.udp"), "invalid value: integer `-1`"),
    (&[Set("timeouts", "tcp", "7440")], Some("timeouts.tcp"), r#"unknown key "tcp" in [timeouts] (line 16); valid keys: udp, tcp_established, tcp_transitory, tcp_syn_hold, icmp, fragment, port"#),
    // [[timeouts.port]]
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 5060, timeout = 10 }]"#)], Some("timeouts.port[0].timeout"), "timeouts.port[0].timeout: must be at least 120 s for UDP port 5060 (RFC 4787 REQ-5; shorter UDP timeouts are allowed only for destination ports below 1024, REQ-5a) (got 10)"),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 53, timeout = 0 }]"#)], Some("timeouts.port[0].timeout"), "must be at least 1 s for UDP port 53"),
    (&[Set("timeouts", "port", r#"[{ protocol = "tcp", port = 80, timeout = 60 }]"#)], Some("timeouts.port[0].timeout"), "timeouts.port[0].timeout: must be at least 240 s for TCP port 80 (RFC 5382 REQ-5) (got 60)"),
    (&[Set("timeouts", "port", r#"[{ protocol = "tcp", port = 80, timeout = 604801 }]"#)], Some("timeouts.port[0].timeout"), "timeouts.port[0].timeout: must be at most 604800 s (got 604801)"),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 53, timeout = 10 }, { protocol = "tcp", port = 53, timeout = 300 }, { protocol = "udp", port = 53, timeout = 20 }]"#)], Some("timeouts.port[2].port"), "timeouts.port[2].port: UDP port 53 already has an override (timeouts.port[0])"),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 0, timeout = 300 }]"#)], Some("timeouts.port[0].port"), "timeouts.port[0].port: must be between 1 and 65535 (got 0)"),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 53, timeout = 10 }, { protocol = "sctp", port = 53, timeout = 10 }]"#)], Some("timeouts.port[1].protocol"), "timeouts.port[1].protocol: unknown variant `sctp`, expected `udp` or `tcp` (line 16)"),
    (&[Set("timeouts", "port", r#"[{ protocol = "UDP", port = 53, timeout = 10 }]"#)], Some("timeouts.port[0].protocol"), "unknown variant `UDP`"),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 53 }]"#)], Some("timeouts.port[0].timeout"), r#"missing required key "timeout" in [timeouts.port[0]] (line 16)"#),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 53, secs = 10 }]"#)], Some("timeouts.port[0].secs"), r#"unknown key "secs" in [timeouts.port[0]] (line 16); valid keys: protocol, port, timeout"#),
    (&[Set("timeouts", "port", r#"[{ protocol = "udp", port = 70000, timeout = 10 }]"#)], Some("timeouts.port[0].port"), "expected an integer between 0 and 65535"),
    (&[Set("timeouts", "port", NINE_OVERRIDES)], Some("timeouts.port"), "timeouts.port: at most 8 overrides are supported (got 9)"),
    // [limits]
    (&[Set("limits", "max_sessions_per_subscriber", "0")], Some("limits.max_sessions_per_subscriber"), "limits.max_sessions_per_subscriber: must be between 1 and 1000000 (got 0)"),
    (&[Set("limits", "max_sessions_per_subscriber", "1000001")], Some("limits.max_sessions_per_subscriber"), "(got 1000001)"),
    (&[Set("limits", "icmp_errors_per_second", "100001")], Some("limits.icmp_errors_per_second"), "limits.icmp_errors_per_second: must be between 0 and 100000 (got 100001)"),
    (&[Set("limits", "max_sessions", "5")], Some("limits.max_sessions"), r#"unknown key "max_sessions" in [limits]"#),
    // [fragments]
    (&[Set("fragments", "max_datagrams", "15")], Some("fragments.max_datagrams"), "fragments.max_datagrams: must be between 16 and 1048576 (got 15)"),
    (&[Set("fragments", "max_datagrams", "1048577")], Some("fragments.max_datagrams"), "(got 1048577)"),
    (&[Set("fragments", "max_held", "65536")], Some("fragments.max_held"), "expected an integer between 0 and 65535"),
    (&[Set("fragments", "max_held_per_datagram", "0")], Some("fragments.max_held_per_datagram"), "must be between 1 and 64 (got 0)"),
    (&[Set("fragments", "max_held_per_datagram", "65")], Some("fragments.max_held_per_datagram"), "(got 65)"),
    (&[Set("fragments", "max_held", "8")], Some("fragments.max_held_per_datagram"), "fragments.max_held_per_datagram: must not exceed fragments.max_held = 8 (got 16)"),
    // [nat]
    (&[Set("nat", "no_translate", r#"["198.51.100.0/24", "203.0.113.128/25"]"#)], Some("nat.no_translate"), "nat.no_translate: 203.0.113.128/25 overlaps the pool (pool.prefixes minus pool.exclude) at 203.0.113.128; pool addresses are always translated"),
    (&[Set("nat", "no_translate", r#"["203.0.0.0/16"]"#)], Some("nat.no_translate"), "overlaps the pool (pool.prefixes minus pool.exclude) at 203.0.113.0"),
    (&[Set("nat", "no_translate", r#"["100.64.5.0/24"]"#)], Some("nat.no_translate"), "nat.no_translate: 100.64.5.0/24 overlaps the inside on-link prefix 100.64.0.0/10"),
    (&[Set("inside", "next_hop", r#""100.64.0.254""#), Set("inside", "subscribers", r#"["100.64.0.0/10", "10.0.0.0/8"]"#), Set("nat", "no_translate", r#"["10.1.0.0/16"]"#)], Some("nat.no_translate"), "10.1.0.0/16 overlaps the subscriber prefix 10.0.0.0/8 (inside.subscribers)"),
    (&[Set("nat", "no_translate", r#"["192.0.2.1/24"]"#)], Some("nat.no_translate"), "192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24?)"),
    (&[Set("nat", "no_translate", r#"["224.0.0.0/4"]"#)], Some("nat.no_translate"), "224.0.0.0/4 includes multicast (224.0.0.0/4) addresses"),
    (&[Set("nat", "no_translate", r#""192.0.2.0/24""#)], Some("nat.no_translate"), "expected an array"),
    (&[Set("nat", "tcp_mss_clamp", "100")], Some("nat.tcp_mss_clamp"), "nat.tcp_mss_clamp: must be 0 (off) or between 536 and 9000 (got 100)"),
    (&[Set("nat", "tcp_mss_clamp", "9001")], Some("nat.tcp_mss_clamp"), "(got 9001)"),
    (&[Set("nat", "tcp_mss_clamp", "1461")], Some("nat.tcp_mss_clamp"), "nat.tcp_mss_clamp: must be at most 1460 = the smaller port MTU (1500) - 40 bytes of IPv4 and TCP headers"),
    (&[Set("inside", "mtu", "9000"), Set("outside", "mtu", "1400"), Set("nat", "tcp_mss_clamp", "1400")], Some("nat.tcp_mss_clamp"), "at most 1360 = the smaller port MTU (1400)"),    // [api]
    (&[Set("api", "listen", r#""127.0.0.1:0""#)], Some("api.listen"), "api.listen: port 0 is not allowed"),
    (&[Set("api", "listen", r#""localhost:50051""#)], Some("api.listen"), "invalid socket address"),
    (&[Set("api", "metrics_listen", r#""224.0.0.1:9440""#)], Some("api.metrics_listen"), "224.0.0.1 is a multicast address"),
    (&[Set("api", "metrics_listen", r#""127.0.0.1:50051""#)], Some("api.metrics_listen"), "127.0.0.1:50051 is already used by api.listen"),
    (&[Set("api", "require_token_for_reads", "true")], Some("api.require_token_for_reads"), "needs api.token_file"),
    (&[Set("api", "token_file", r#""""#)], Some("api.token_file"), "must not be empty"),
    (&[Set("api", "tls_cert", r#""/etc/cgnat/api.pem""#)], Some("api.tls_key"), "api.tls_cert needs api.tls_key"),
    (&[Set("api", "tls_key", r#""/etc/cgnat/api.key""#)], Some("api.tls_cert"), "api.tls_key needs api.tls_cert"),
    (&[Set("api", "tls_client_ca", r#""/etc/cgnat/ca.pem""#)], Some("api.tls_client_ca"), "client certificates (mTLS) need TLS"),
    (&[Set("api", "max_request_bytes", "100")], Some("api.max_request_bytes"), "between 1024 and 4194304 (got 100)"),
    (&[Set("api", "tokenfile", r#""x""#)], Some("api.tokenfile"), "unknown key \"tokenfile\" in [api]"),
    // [alg]
    (&[Set("alg.ftp", "ports", "[]")], Some("alg.ftp.ports"), "between 1 and 16 ports (got 0)"),
    (&[Set("alg.ftp", "ports", "[21, 21]")], Some("alg.ftp.ports"), "port 21 is listed twice"),
    (&[Set("alg.tftp", "ports", "[0]")], Some("alg.tftp.ports"), "port 0 is not a server port"),
    (&[Set("alg.h323", "ports", "[]")], Some("alg.h323.ports"), "between 1 and 16 ports (got 0)"),
    (&[Set("alg.h323", "ras_ports", "[1719, 1719]")], Some("alg.h323.ras_ports"), "port 1719 is listed twice"),
    (&[Set("alg.h323", "ras_ports", "[0]")], Some("alg.h323.ras_ports"), "port 0 is not a server port"),
    (&[Set("alg.h323", "ports", "[21]")], Some("alg.h323.ports"), "port 21 is also in alg.ftp.ports"),
    (&[Set("alg.h323", "enable", "true")], Some("alg.h323.enable"), r#"unknown key "enable""#),
    (&[Set("alg", "max_expectations_per_session", "9")], Some("alg.max_expectations_per_session"), "9"),
    (&[Set("alg", "expectation_timeout_secs", "0")], Some("alg.expectation_timeout_secs"), "0"),
    (&[Set("alg", "max_expectations_per_worker", "0")], Some("alg.max_expectations_per_worker"), "0"),
    (&[Set("alg.ftp", "enable", "true")], Some("alg.ftp.enable"), r#"unknown key "enable""#),
    (&[Set("alg.rtsp", "ports", "[]")], Some("alg.rtsp.ports"), "alg.rtsp.ports: between 1 and 16 ports (got 0)"),
    (&[Set("alg.rtsp", "ports", "[554, 0]")], Some("alg.rtsp.ports"), "port 0 is not a server port"),
    (&[Set("alg.rtsp", "ports", "[554, 8554, 554]")], Some("alg.rtsp.ports"), "port 554 is listed twice"),
    (&[Set("alg.rtsp", "ports", "[554, 21]")], Some("alg.rtsp.ports"), "alg.rtsp.ports: port 21 is also in alg.ftp.ports (one ALG per TCP port)"),
    (&[Set("alg.rtsp", "destination", r#""drop""#)], Some("alg.rtsp.destination"), "unknown variant `drop`, expected `refuse` or `strip`"),
    (&[Set("alg.rtsp", "server_port", "true")], Some("alg.rtsp.server_port"), r#"unknown key "server_port" in [alg.rtsp]"#),
    (&[Set("alg.pptp", "ports", "[]")], Some("alg.pptp.ports"), "alg.pptp.ports: between 1 and 16 ports (got 0)"),
    (&[Set("alg.pptp", "ports", "[1723, 1723]")], Some("alg.pptp.ports"), "port 1723 is listed twice"),
    (&[Set("alg.pptp", "ports", "[1723, 554]")], Some("alg.pptp.ports"), "alg.pptp.ports: port 554 is also in alg.rtsp.ports (one ALG per TCP port)"),
    (&[Set("alg.pptp", "ports", "[21]")], Some("alg.pptp.ports"), "alg.pptp.ports: port 21 is also in alg.ftp.ports (one ALG per TCP port)"),
    (&[Set("alg.pptp", "gre_timeout_secs", "0")], Some("alg.pptp.gre_timeout_secs"), "alg.pptp.gre_timeout_secs: must be between 1 and 86400 (got 0)"),
    (&[Set("alg.pptp", "gre_timeout", "30")], Some("alg.pptp.gre_timeout"), r#"unknown key "gre_timeout" in [alg.pptp]"#),
    (&[Set("alg.sip", "ports", "[]")], Some("alg.sip.ports"), "alg.sip.ports: between 1 and 16 ports (got 0)"),
    (&[Set("alg.sip", "ports", "[5060, 5060]")], Some("alg.sip.ports"), "port 5060 is listed twice"),
    (&[Set("alg.sip", "ports", "[5060, 69]")], Some("alg.sip.ports"), "alg.sip.ports: port 69 is also in alg.tftp.ports (one ALG per port)"),
    (&[Set("alg.sip", "ports", "[554]")], Some("alg.sip.ports"), "alg.sip.ports: port 554 is also in alg.rtsp.ports (one ALG per port)"),
    (&[Set("alg.sip", "max_expectations_per_subscriber", "1")], Some("alg.sip.max_expectations_per_subscriber"), "must be between 2 and 1024 (got 1)"),
    (&[Set("alg.sip", "register_max_secs", "86401")], Some("alg.sip.register_max_secs"), "must be between 60 and 86400 (got 86401)"),
    (&[Set("alg.sip", "max_calls", "4")], Some("alg.sip.max_calls"), r#"unknown key "max_calls" in [alg.sip]"#),
];

#[test]
fn alg_pptp_defaults_off_and_parses() {
    let c = Config::from_toml_str(&build(&[])).unwrap();
    assert_eq!(
        c.alg.pptp,
        PptpAlgConfig {
            enabled: false,
            ports: vec![1723],
            gre_timeout_secs: 300,
        }
    );
    let c = Config::from_toml_str(&build(&[
        Set("alg.pptp", "enabled", "true"),
        Set("alg.pptp", "ports", "[1723, 11723]"),
        Set("alg.pptp", "gre_timeout_secs", "7200"),
    ]))
    .unwrap();
    assert_eq!(
        c.alg.pptp,
        PptpAlgConfig {
            enabled: true,
            ports: vec![1723, 11723],
            gre_timeout_secs: 7200,
        }
    );
}

#[test]
fn alg_sip_defaults_off_and_parses() {
    let c = Config::from_toml_str(&build(&[])).unwrap();
    assert_eq!(c.alg.sip, SipAlgConfig::default());
    assert!(!c.alg.sip.enabled, "RFC 4787 REQ-10: off by default");
    assert_eq!(c.alg.sip.ports, vec![5060]);
    let c = Config::from_toml_str(&build(&[
        Set("alg.sip", "enabled", "true"),
        Set("alg.sip", "ports", "[5060, 5080]"),
        Set("alg.sip", "max_expectations_per_subscriber", "32"),
        Set("alg.sip", "register_max_secs", "600"),
    ]))
    .unwrap();
    assert_eq!(
        c.alg.sip,
        SipAlgConfig {
            enabled: true,
            ports: vec![5060, 5080],
            max_expectations_per_subscriber: 32,
            register_max_secs: 600,
        }
    );
}

#[test]
fn alg_rtsp_defaults_off_and_parses() {
    let c = Config::from_toml_str(&build(&[])).unwrap();
    assert_eq!(
        c.alg.rtsp,
        RtspAlgConfig {
            enabled: false,
            ports: vec![554],
            destination: RtspDestination::Refuse,
        }
    );
    let c = Config::from_toml_str(&build(&[
        Set("alg.rtsp", "enabled", "true"),
        Set("alg.rtsp", "ports", "[554, 8554]"),
        Set("alg.rtsp", "destination", r#""strip""#),
    ]))
    .unwrap();
    assert_eq!(
        c.alg.rtsp,
        RtspAlgConfig {
            enabled: true,
            ports: vec![554, 8554],
            destination: RtspDestination::Strip,
        }
    );
}

const DET: &str = r#""deterministic""#;
const SUB16: &str = r#"["100.64.0.0/16"]"#;
const NINE_OVERRIDES: &str = r#"[
    { protocol = "udp", port = 53, timeout = 10 },
    { protocol = "udp", port = 123, timeout = 30 },
    { protocol = "udp", port = 500, timeout = 600 },
    { protocol = "udp", port = 4500, timeout = 600 },
    { protocol = "udp", port = 5060, timeout = 600 },
    { protocol = "tcp", port = 22, timeout = 14400 },
    { protocol = "tcp", port = 80, timeout = 600 },
    { protocol = "tcp", port = 443, timeout = 600 },
    { protocol = "tcp", port = 5060, timeout = 3600 },
]"#;

#[test]
fn bad_configs_name_the_key_and_the_problem() {
    assert!(BAD.len() >= 120);
    let mut failures = Vec::new();
    for (i, (edits, key, text)) in BAD.iter().enumerate() {
        let doc = build(edits);
        match Config::from_toml_str(&doc) {
            Ok(_) => failures.push(format!("case {i}: accepted\n{doc}")),
            Err(e) => {
                let msg = e.to_string();
                if e.key() != *key || !msg.contains(text) || msg.contains('\n') {
                    failures.push(format!(
                        "case {i}: got key {:?}, message\n    {msg}\n  want key {key:?}, text\n    {text}\n{doc}",
                        e.key()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_lines_point_at_the_key() {
    let doc = FULL.replace("block_size = 512", "block_size = 512\nfoo = 1");
    let e = Config::from_toml_str(&doc).unwrap_err();
    let line = doc.lines().position(|l| l.starts_with("foo = 1")).unwrap() + 1;
    assert_eq!(e.line(), Some(line));
    assert_eq!(e.key(), Some("pool.foo"));
    assert_eq!(
        e.to_string(),
        format!(
            "unknown key \"foo\" in [pool] (line {line}); valid keys: prefixes, exclude, \
             block_size, max_blocks_per_subscriber, port_min, port_max, filtering, mode, \
             ports_per_subscriber, preserve_parity, hold_down_secs"
        )
    );

    // An element of a multi-line array: the line of the element, the key of the array.
    let doc = FULL.replace("\"--vdev\", \"net_af_packet0", "7, \"net_af_packet0");
    let e = Config::from_toml_str(&doc).unwrap_err();
    assert_eq!(e.key(), Some("eal.args"));
    assert_eq!(e.line(), Some(4));
}

#[test]
fn dotted_keys_and_inline_tables_are_located_too() {
    let base = build(&[DelSection("arp")]);
    for (extra, key, text) in [
        ("arp.foo = 1\n", "arp.foo", "unknown key \"foo\" in [arp]"),
        (
            "arp = { foo = 1 }\n",
            "arp.foo",
            "unknown key \"foo\" in [arp]",
        ),
        (
            "arp.entry_timeout_secs = \"x\"\n",
            "arp.entry_timeout_secs",
            "invalid type",
        ),
        (
            "arp = { max_pending_total = 0 }\n",
            "arp.max_pending_total",
            "(got 0)",
        ),
    ] {
        // Top-level keys must come before the first table header.
        let doc = format!("{extra}{base}");
        let e = Config::from_toml_str(&doc).unwrap_err();
        assert_eq!(e.key(), Some(key), "{doc}\n{e}");
        assert!(e.to_string().contains(text), "{e}");
    }
    // A section written entirely with dotted keys, missing a required key.
    let doc = build(&[DelSection("inside")])
        .replace("[eal]", "inside.device = \"net_af_packet0\"\n[eal]");
    let e = Config::from_toml_str(&doc).unwrap_err();
    assert_eq!(e.key(), Some("inside.address"), "{e}");
    assert!(
        e.to_string()
            .contains(r#"missing required key "address" in [inside]"#),
        "{e}"
    );
    // A nested unknown table.
    let e = Config::from_toml_str(&format!("{MINIMAL}\n[pool.extra]\nx = 1\n")).unwrap_err();
    assert_eq!(e.key(), Some("pool.extra"), "{e}");
}

#[test]
fn every_required_key_is_reported_when_missing() {
    for (section, key) in [
        ("eal", "args"),
        ("inside", "device"),
        ("inside", "address"),
        ("outside", "device"),
        ("outside", "address"),
        ("pool", "prefixes"),
    ] {
        let e = Config::from_toml_str(&build(&[Del(section, key)])).unwrap_err();
        assert!(matches!(e, ConfigError::MissingKey { .. }), "{e}");
        assert_eq!(e.key(), Some(format!("{section}.{key}").as_str()));
    }
    for section in ["eal", "inside", "outside", "pool"] {
        let e = Config::from_toml_str(&build(&[DelSection(section)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("missing required section [{section}]")
        );
    }
    for section in ["dataplane", "arp"] {
        Config::from_toml_str(&build(&[DelSection(section)])).unwrap();
    }
    // The sections added later are optional too, and an empty one means all defaults.
    for section in ["timeouts", "limits", "fragments", "nat"] {
        let cfg = Config::from_toml_str(&format!("{MINIMAL}\n[{section}]\n")).unwrap();
        assert_eq!(cfg, Config::from_toml_str(MINIMAL).unwrap());
    }
}

#[test]
fn every_new_key_with_non_default_values_parses() {
    let doc = format!(
        "{}{}",
        MINIMAL.replace(
            "[inside]\n",
            "[inside]\nsubscribers = [\"100.64.0.0/16\"]\n"
        ),
        r#"filtering = "address-and-port-dependent"
mode = "deterministic"
ports_per_subscriber = 200
preserve_parity = true
hold_down_secs = 0

[timeouts]
udp = 120
tcp_established = 86400
tcp_transitory = 300
tcp_syn_hold = 60
icmp = 30000
fragment = 60

[[timeouts.port]]
protocol = "udp"
port = 53
timeout = 10

[[timeouts.port]]
protocol = "tcp"
port = 22
timeout = 240

[limits]
max_sessions_per_subscriber = 1000000
icmp_errors_per_second = 0

[fragments]
max_datagrams = 16
max_held = 0
max_held_per_datagram = 64

[nat]
no_translate = ["192.0.2.0/24", "10.0.0.0/8"]
tcp_mss_clamp = 1400

[alg.h323]
enabled = true
ras_ports = [1719, 11719]
"#
    );
    let cfg = Config::from_toml_str(&doc).unwrap();
    // `[alg.h323]` keys are each optional: `ports` keeps its default.
    assert_eq!(
        cfg.alg.h323,
        H323Switch {
            enabled: true,
            ports: vec![1720],
            ras_ports: vec![1719, 11719],
        }
    );
    assert_eq!(cfg.pool.filtering, Filtering::AddressAndPortDependent);
    assert_eq!(cfg.pool.mode, PoolMode::Deterministic);
    assert_eq!(cfg.pool.ports_per_subscriber, 200);
    assert!(cfg.pool.preserve_parity);
    assert_eq!(cfg.pool.hold_down_secs, 0);
    assert_eq!(
        cfg.timeouts,
        TimeoutsConfig {
            udp: 120,
            tcp_established: 86400,
            tcp_transitory: 300,
            tcp_syn_hold: 60,
            icmp: 30000,
            fragment: 60,
            port: vec![
                PortTimeout {
                    protocol: L4Proto::Udp,
                    port: 53,
                    timeout: 10,
                },
                PortTimeout {
                    protocol: L4Proto::Tcp,
                    port: 22,
                    timeout: 240,
                },
            ],
        }
    );
    let dns = cfg.timeouts.port_override(L4Proto::Udp, 53).unwrap();
    assert_eq!(dns.duration(), std::time::Duration::from_secs(10));
    assert_eq!(cfg.timeouts.port_override(L4Proto::Tcp, 53), None);
    assert_eq!(L4Proto::Udp.ip_proto(), 17);
    assert_eq!(L4Proto::Tcp.ip_proto(), 6);
    assert_eq!(
        cfg.limits,
        LimitsConfig {
            max_sessions_per_subscriber: 1_000_000,
            icmp_errors_per_second: 0,
        }
    );
    assert_eq!(
        cfg.fragments,
        FragmentsConfig {
            max_datagrams: 16,
            max_held: 0,
            max_held_per_datagram: 64,
        }
    );
    assert_eq!(
        cfg.nat,
        NatConfig {
            no_translate: vec![pfx("192.0.2.0/24"), pfx("10.0.0.0/8")],
            tcp_mss_clamp: 1400,
        }
    );
    assert!(cfg.nat.is_no_translate(ip("10.9.8.7")));
    assert!(!cfg.nat.is_no_translate(ip("8.8.8.8")));
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(200));
    assert_eq!(cfg.deterministic_sharing_ratio(), Some(256));
    // Written back and read again: the same config (enums in their file spelling).
    let text = toml::to_string(&cfg).unwrap();
    assert!(
        text.contains(r#"filtering = "address-and-port-dependent""#),
        "{text}"
    );
    assert!(text.contains(r#"protocol = "tcp""#), "{text}");
    assert_eq!(Config::from_toml_str(&text).unwrap(), cfg, "{text}");
}

#[test]
fn every_filtering_and_mode_spelling_parses() {
    for (text, want) in [
        ("endpoint-independent", Filtering::EndpointIndependent),
        ("address-dependent", Filtering::AddressDependent),
        (
            "address-and-port-dependent",
            Filtering::AddressAndPortDependent,
        ),
    ] {
        let v = format!("\"{text}\"");
        let cfg = Config::from_toml_str(&build(&[Set("pool", "filtering", &v)])).unwrap();
        assert_eq!(cfg.pool.filtering, want);
    }
    let cfg = Config::from_toml_str(&build(&[Set("pool", "mode", r#""dynamic""#)])).unwrap();
    assert_eq!(cfg.pool.mode, PoolMode::Dynamic);
}

#[test]
fn short_udp_overrides_only_for_well_known_ports() {
    let one = |proto: &str, port: u16, timeout: u32| {
        let v = format!("[{{ protocol = \"{proto}\", port = {port}, timeout = {timeout} }}]");
        Config::from_toml_str(&build(&[Set("timeouts", "port", &v)]))
    };
    // RFC 4787 REQ-5a: shorter UDP timers only for destination ports 0-1023.
    assert_eq!(one("udp", 53, 10).unwrap().timeouts.port[0].timeout, 10);
    one("udp", 1023, 1).unwrap();
    one("udp", 5060, 120).unwrap();
    one("tcp", 80, 240).unwrap();
    let e = one("udp", 5060, 10).unwrap_err();
    assert_eq!(e.key(), Some("timeouts.port[0].timeout"));
    assert_eq!(
        e.to_string(),
        "timeouts.port[0].timeout: must be at least 120 s for UDP port 5060 (RFC 4787 REQ-5; \
         shorter UDP timeouts are allowed only for destination ports below 1024, REQ-5a) (got 10)"
    );
    assert_eq!(
        one("udp", 1024, 119).unwrap_err().key(),
        Some("timeouts.port[0].timeout")
    );
    assert_eq!(
        one("tcp", 22, 239).unwrap_err().key(),
        Some("timeouts.port[0].timeout")
    );
    // The same port for both protocols is two different overrides; eight are allowed.
    let eight: String = (0..8)
        .map(|i| {
            let proto = if i % 2 == 0 { "udp" } else { "tcp" };
            format!(
                "{{ protocol = \"{proto}\", port = {}, timeout = 600 }}",
                100 + i / 2
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let cfg =
        Config::from_toml_str(&build(&[Set("timeouts", "port", &format!("[{eight}]"))])).unwrap();
    assert_eq!(cfg.timeouts.port.len(), TimeoutsConfig::MAX_PORT_OVERRIDES);
}

#[test]
fn deterministic_ports_per_subscriber_follow_rfc_7422() {
    let det = |subs: &str, extra: &[Edit]| {
        let mut edits = vec![Set("pool", "mode", DET), Set("inside", "subscribers", subs)];
        edits.extend_from_slice(extra);
        Config::from_toml_str(&build(&edits))
    };
    // RFC 7422's example: 64 subscribers per public address, 64512 / 64 = 1008 ports each.
    let cfg = det(r#"["100.64.0.0/18"]"#, &[]).unwrap();
    assert_eq!(cfg.deterministic_sharing_ratio(), Some(64));
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(1008));
    // Several prefixes count together: 2 x /19 = /18.
    let cfg = det(r#"["100.64.0.0/19", "100.65.0.0/19"]"#, &[]).unwrap();
    assert_eq!(cfg.inside.subscriber_count(), 16384);
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(1008));
    // Fewer subscribers than pool addresses: each gets a whole address.
    let cfg = det(r#"["100.64.0.0/25"]"#, &[]).unwrap();
    assert_eq!(cfg.deterministic_sharing_ratio(), Some(1));
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(64512));
    // The smallest derived value accepted is 64: a /14 on a /24 is ratio 1024, 63 ports.
    let cfg = det(r#"["100.64.0.0/15"]"#, &[]).unwrap();
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(126));
    assert_eq!(
        det(r#"["100.64.0.0/14"]"#, &[]).unwrap_err().key(),
        Some("pool.mode")
    );
    // A fixed value may be smaller than the derived one, never larger.
    let cfg = det(SUB16, &[Set("pool", "ports_per_subscriber", "252")]).unwrap();
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(252));
    let cfg = det(SUB16, &[Set("pool", "ports_per_subscriber", "1")]).unwrap();
    assert_eq!(cfg.deterministic_ports_per_subscriber(), Some(1));
    assert!(det(SUB16, &[Set("pool", "ports_per_subscriber", "253")]).is_err());
    // A fixed value below 64 is the operator's choice; only the derived one has a floor.
    det(
        r#"["100.64.0.0/14"]"#,
        &[Set("pool", "ports_per_subscriber", "63")],
    )
    .unwrap();
}

#[test]
fn deterministic_mode_ignores_the_block_rules() {
    let edits = [
        Set("dataplane", "workers", "8"),
        Set("dataplane", "mbufs", "65535"),
        Set("pool", "block_size", "16128"),
        Set("inside", "subscribers", SUB16),
    ];
    // Dynamic: 4 blocks per address cannot feed 8 workers.
    let e = Config::from_toml_str(&build(&edits)).unwrap_err();
    assert_eq!(e.key(), Some("dataplane.workers"));
    // Deterministic: there are no blocks, but (this release) a single worker.
    let mut det = edits.to_vec();
    det.push(Set("pool", "mode", DET));
    let e = Config::from_toml_str(&build(&det)).unwrap_err();
    assert_eq!(e.key(), Some("dataplane.workers"));
    assert!(e.to_string().contains("run on 1 worker"), "{e}");
    det[0] = Set("dataplane", "workers", "1");
    Config::from_toml_str(&build(&det)).unwrap();
}

#[test]
fn no_translate_may_cover_excluded_pool_addresses() {
    let cfg = Config::from_toml_str(&build(&[
        Set("pool", "exclude", r#"["203.0.113.0/28"]"#),
        Set(
            "nat",
            "no_translate",
            r#"["203.0.113.0/28", "192.0.2.0/24"]"#,
        ),
    ]))
    .unwrap();
    assert!(cfg.nat.is_no_translate(ip("203.0.113.3")));
    // One address further is a pool address.
    let e = Config::from_toml_str(&build(&[
        Set("pool", "exclude", r#"["203.0.113.0/28"]"#),
        Set("nat", "no_translate", r#"["203.0.113.0/27"]"#),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("at 203.0.113.16;"), "{e}");
    // The limit on entries.
    let many: Vec<String> = (0..=64).map(|i| format!("\"192.0.{i}.0/24\"")).collect();
    let e = Config::from_toml_str(&build(&[Set(
        "nat",
        "no_translate",
        &format!("[{}]", many.join(", ")),
    )]))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nat.no_translate: at most 64 prefixes are supported (got 65)"
    );
}

#[test]
fn array_table_errors_point_at_the_entry() {
    let base = build(&[]);
    let doc = format!(
        "{base}[[timeouts.port]]\nprotocol = \"udp\"\nport = 53\ntimeout = 10\n\n\
         [[timeouts.port]]\nprotocol = \"tcp\"\nport = 443\n"
    );
    let e = Config::from_toml_str(&doc).unwrap_err();
    let line = doc
        .rfind("[[timeouts.port]]")
        .map(|at| doc[..at].lines().count() + 1);
    assert_eq!(e.key(), Some("timeouts.port[1].timeout"));
    assert_eq!(e.line(), line);
    assert_eq!(
        e.to_string(),
        format!(
            "missing required key \"timeout\" in [timeouts.port[1]] (line {})",
            line.unwrap()
        )
    );
    let doc = doc.replace("port = 443\n", "port = 443\ntimeout = 3\n");
    let e = Config::from_toml_str(&doc).unwrap_err();
    assert_eq!(e.key(), Some("timeouts.port[1].timeout"));
    assert!(
        e.to_string()
            .contains("must be at least 240 s for TCP port 443"),
        "{e}"
    );
}

#[test]
fn pool_addresses_are_expanded_deduplicated_sorted_and_excluded() {
    let cfg = Config::from_toml_str(&build(&[
        Set(
            "pool",
            "prefixes",
            r#"["203.0.113.8/30", "203.0.113.10-203.0.113.13", "192.0.2.1", "203.0.113.8/31"]"#,
        ),
        Set("pool", "exclude", r#"["203.0.113.12", "203.0.113.9/32"]"#),
    ]))
    .unwrap();
    let want: Vec<Ipv4Addr> = [
        "192.0.2.1",
        "203.0.113.8",
        "203.0.113.10",
        "203.0.113.11",
        "203.0.113.13",
    ]
    .iter()
    .map(|s| ip(s))
    .collect();
    assert_eq!(cfg.pool.addresses(), want);
    assert_eq!(cfg.pool.address_count(), 5);
    // Network and broadcast addresses of a pool prefix are usable.
    let cfg =
        Config::from_toml_str(&build(&[Set("pool", "prefixes", r#"["203.0.113.0/30"]"#)])).unwrap();
    assert_eq!(cfg.pool.addresses().len(), 4);
}

#[test]
fn blocks_per_address_ignores_the_remainder() {
    let cfg = Config::from_toml_str(&build(&[Set("pool", "block_size", "1000")])).unwrap();
    assert_eq!(cfg.pool.blocks_per_address(), 64); // 64512 / 1000 = 64.512
    let cfg = Config::from_toml_str(&build(&[
        Set("pool", "port_min", "2000"),
        Set("pool", "port_max", "2999"),
        Set("pool", "block_size", "100"),
        Set("pool", "max_blocks_per_subscriber", "10"),
    ]))
    .unwrap();
    assert_eq!(cfg.pool.blocks_per_address(), 10);
}

#[test]
fn serialized_config_reads_back_identically() {
    for src in [FULL, MINIMAL] {
        let cfg = Config::from_toml_str(src).unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(Config::from_toml_str(&text).unwrap(), cfg, "{text}");
    }
}

#[test]
fn hand_built_configs_are_validated_too() {
    let mut cfg = Config::from_toml_str(FULL).unwrap();
    cfg.inside.address.len = 40;
    let e = cfg.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "inside.address: prefix length must be 0..=32 (got /40)"
    );
    let mut cfg = Config::from_toml_str(FULL).unwrap();
    cfg.pool.exclude = vec![PoolEntry::Range {
        first: ip("203.0.113.9"),
        last: ip("203.0.113.1"),
    }];
    assert_eq!(cfg.validate().unwrap_err().key(), Some("pool.exclude"));
    let mut cfg = Config::from_toml_str(FULL).unwrap();
    cfg.timeouts.port.push(cfg.timeouts.port[0]);
    assert_eq!(
        cfg.validate().unwrap_err().to_string(),
        "timeouts.port[1].port: UDP port 53 already has an override (timeouts.port[0])"
    );
    let mut cfg = Config::from_toml_str(FULL).unwrap();
    cfg.nat.no_translate.push(Ipv4Prefix {
        addr: ip("192.0.2.0"),
        len: 33,
    });
    assert_eq!(cfg.validate().unwrap_err().key(), Some("nat.no_translate"));
}

// ---- properties ----

fn any_prefix() -> impl Strategy<Value = Ipv4Prefix> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, len)| Ipv4Prefix {
        addr: Ipv4Addr::from(a),
        len,
    })
}

/// Small entries in 10.0.0.0/24 so that brute force is cheap.
fn small_entry() -> impl Strategy<Value = PoolEntry> {
    prop_oneof![
        (0u32..256, 26u8..=32).prop_map(|(a, len)| {
            let p = Ipv4Prefix {
                addr: Ipv4Addr::from(0x0a00_0000 | a),
                len,
            };
            PoolEntry::Prefix(p.network())
        }),
        (0u32..256, 0u32..40).prop_map(|(a, n)| PoolEntry::Range {
            first: Ipv4Addr::from(0x0a00_0000 | a),
            last: Ipv4Addr::from(0x0a00_0000 | (a + n).min(255)),
        }),
    ]
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_text(s in "\\PC*") {
        let _ = Config::from_toml_str(&s);
    }

    #[test]
    fn parser_never_panics_on_mangled_configs(
        cut in 0usize..4000, len in 0usize..40, insert in "[\\[\\]=\"',.{}\\n a-z0-9/-]{0,12}"
    ) {
        let mut s = FULL.to_owned();
        let at = cut.min(s.len());
        let end = (at + len).min(s.len());
        if s.is_char_boundary(at) && s.is_char_boundary(end) {
            s.replace_range(at..end, &insert);
        }
        if let Err(e) = Config::from_toml_str(&s) {
            prop_assert!(!e.to_string().contains('\n'), "{}", e);
        }
    }

    #[test]
    fn prefix_display_parse_round_trips(p in any_prefix()) {
        let back: Ipv4Prefix = p.to_string().parse().unwrap();
        prop_assert_eq!(back, p);
        let e = PoolEntry::Prefix(p);
        prop_assert_eq!(e.to_string().parse::<PoolEntry>().unwrap(), e);
    }

    #[test]
    fn range_display_parse_round_trips(a in any::<u32>(), b in any::<u32>()) {
        let e = PoolEntry::Range { first: Ipv4Addr::from(a.min(b)), last: Ipv4Addr::from(a.max(b)) };
        prop_assert_eq!(e.to_string().parse::<PoolEntry>().unwrap(), e);
    }

    #[test]
    fn prefix_predicates_agree_with_intervals(p in any_prefix(), q in any_prefix(), x in any::<u32>()) {
        let (lo, hi) = (u32::from(p.network().addr), u32::from(p.broadcast()));
        prop_assert_eq!(p.size(), u64::from(hi - lo) + 1);
        prop_assert_eq!(p.contains(Ipv4Addr::from(x)), (lo..=hi).contains(&x));
        let (qlo, qhi) = (u32::from(q.network().addr), u32::from(q.broadcast()));
        prop_assert_eq!(p.overlaps(&q), lo <= qhi && qlo <= hi);
        prop_assert_eq!(p.overlaps(&q), q.overlaps(&p));
    }

    #[test]
    fn pool_addresses_match_brute_force(
        keep in prop::collection::vec(small_entry(), 1..6),
        drop in prop::collection::vec(small_entry(), 0..4),
    ) {
        let pool = PoolConfig {
            prefixes: keep.clone(),
            exclude: drop.clone(),
            block_size: 512,
            max_blocks_per_subscriber: 4,
            port_min: 1024,
            port_max: 65535,
            filtering: Filtering::default(),
            mode: PoolMode::default(),
            ports_per_subscriber: 0,
            preserve_parity: false,
            hold_down_secs: 120,
        };
        let mut want = BTreeSet::new();
        for e in &keep {
            for a in u32::from(e.first())..=u32::from(e.last()) {
                want.insert(a);
            }
        }
        for e in &drop {
            for a in u32::from(e.first())..=u32::from(e.last()) {
                want.remove(&a);
            }
        }
        let want: Vec<Ipv4Addr> = want.into_iter().map(Ipv4Addr::from).collect();
        prop_assert_eq!(pool.address_count(), want.len() as u64);
        prop_assert_eq!(pool.addresses(), want);
    }
}
