//! `[logging]`: optional, every sink off by default, bad values refused with the key named.
#![allow(clippy::unwrap_used)]

use control::Config;

const BASE: &str = r#"
[eal]
args = ["--no-huge"]
[inside]
device = "a"
address = "100.64.0.1/10"
[outside]
device = "b"
address = "198.51.100.1/24"
next_hop = "198.51.100.2"
[pool]
prefixes = ["203.0.113.0/24"]
"#;

#[test]
fn absent_section_means_no_sinks() {
    let c = Config::from_toml_str(BASE).unwrap();
    assert_eq!(c.logging.ipfix_collector, None);
    assert_eq!(c.logging.syslog_server, None);
    assert_eq!(c.logging.json_file, None);
    assert_eq!(c.logging.ipfix_template_refresh_secs, 60);
}

#[test]
fn sinks_parse() {
    let c = Config::from_toml_str(&format!(
        "{BASE}[logging]\nipfix_collector = \"127.0.0.1:4739\"\nsyslog_server = \"127.0.0.1:5514\"\njson_file = \"/var/log/cgnat/events.jsonl\"\njson_keep = 3\n"
    ))
    .unwrap();
    assert_eq!(c.logging.ipfix_collector.unwrap().port(), 4739);
    assert_eq!(
        c.logging.syslog_server.unwrap().to_string(),
        "127.0.0.1:5514"
    );
    assert_eq!(c.logging.json_keep, 3);
}

#[test]
fn bad_values_name_the_key() {
    for (extra, key) in [
        (
            "ipfix_collector = \"127.0.0.1:0\"",
            "logging.ipfix_collector",
        ),
        (
            "ipfix_collector = \"0.0.0.0:4739\"",
            "logging.ipfix_collector",
        ),
        ("ipfix_collector = \"collector:4739\"", "ipfix_collector"),
        ("syslog_server = \"224.0.0.1:514\"", "logging.syslog_server"),
        (
            "ipfix_template_refresh_secs = 0",
            "logging.ipfix_template_refresh_secs",
        ),
        ("syslog_hostname = \"has space\"", "logging.syslog_hostname"),
        ("json_max_bytes = 100", "logging.json_max_bytes"),
        ("json_keep = 0", "logging.json_keep"),
        ("bogus = 1", "bogus"),
    ] {
        let e = Config::from_toml_str(&format!("{BASE}[logging]\n{extra}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{extra}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
