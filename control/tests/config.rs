//! Tests of the config file contract: the documented example, defaults, one test per class of
//! operator mistake (each error must name the key and the problem on one line), and property
//! tests (no input panics the parser; string forms round-trip).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use control::config::{ArpConfig, DataplaneConfig, EalConfig, InsideConfig, OutsideConfig};
use control::{Config, ConfigError, Ipv4Prefix, PoolConfig, PoolEntry};
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
        },
        dataplane: DataplaneConfig {
            workers: 1,
            max_bindings_per_worker: 1_048_576,
            max_subscribers_per_worker: 65536,
            mbufs: 16383,
            rx_desc: 1024,
            tx_desc: 1024,
            burst: 32,
        },
        arp: ArpConfig {
            entry_timeout_secs: 300,
            request_interval_ms: 1000,
            max_pending_per_host: 4,
            max_pending_total: 256,
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
    assert_eq!(cfg.dataplane, DataplaneConfig::default());
    assert_eq!(cfg.arp, ArpConfig::default());
    // The full example spells out exactly the defaults (plus the optional next hops).
    let mut full = Config::from_toml_str(FULL).unwrap();
    full.eal = cfg.eal.clone();
    full.inside.next_hop = None;
    full.outside.next_hop = None;
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
];

#[test]
fn bad_configs_name_the_key_and_the_problem() {
    assert!(BAD.len() >= 25);
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
             block_size, max_blocks_per_subscriber, port_min, port_max"
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
        cut in 0usize..1500, len in 0usize..40, insert in "[\\[\\]=\"',.{}\\n a-z0-9/-]{0,12}"
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
