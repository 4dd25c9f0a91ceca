//! `cgnatd --check-config`: valid files exit 0, invalid ones exit 2 with one clear line naming
//! the key, and nothing is started (no EAL: these run without DPDK privileges).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn check(toml: &str) -> (i32, String, String) {
    let dir =
        std::env::temp_dir().join(format!("cgnat-check-{}-{}", std::process::id(), toml.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!(
        "c{}.toml",
        toml.bytes().map(u64::from).sum::<u64>()
    ));
    std::fs::write(&p, toml).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--check-config")
        .arg(&p)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

const GOOD: &str = r#"
[eal]
args = ["--no-huge"]
[inside]
device = "net_af_packet0"
address = "100.64.0.1/10"
[outside]
device = "net_af_packet1"
address = "198.51.100.1/24"
next_hop = "198.51.100.2"
[pool]
prefixes = ["203.0.113.0/24"]
"#;

#[test]
fn lab_config_is_valid() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab/cgnat.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--check-config")
        .arg(p)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn minimal_config_is_valid() {
    let (code, out, err) = check(GOOD);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid"));
}

#[test]
fn invalid_configs_exit_2_naming_the_key() {
    let cases = [
        (
            GOOD.replace("block_size", "x")
                .replace("[pool]", "[pool]\nbogus = 1"),
            "bogus",
        ),
        (
            GOOD.replace("100.64.0.1/10", "100.64.0.1/33"),
            "inside.address",
        ),
        (
            GOOD.replace("next_hop = \"198.51.100.2\"", "next_hop = \"10.0.0.1\""),
            "outside.next_hop",
        ),
        (format!("{GOOD}block_size = 3\n"), "pool.block_size"),
        (
            format!("{GOOD}max_blocks_per_subscriber = 100\n"),
            "pool.max_blocks_per_subscriber",
        ),
        (
            format!("{GOOD}[dataplane]\nworkers = 0\n"),
            "dataplane.workers",
        ),
        (
            // (Several workers are supported now; 65 is above the limit of 64.)
            format!("{GOOD}[dataplane]\nworkers = 65\n"),
            "dataplane.workers",
        ),
        (
            GOOD.replace("[outside]\ndevice = \"net_af_packet1\"", "[outside]"),
            "device",
        ),
        ("this is not toml".to_string(), ""),
    ];
    for (toml, key) in cases {
        let (code, out, err) = check(&toml);
        assert_eq!(
            code, 2,
            "expected exit 2 for key {key}: out={out} err={err}"
        );
        assert!(err.contains(key), "error should name {key}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
        assert!(!err.contains("EAL"), "nothing may start: {err}");
    }
}

#[test]
fn missing_file_exits_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .args(["--check-config", "/nonexistent/cgnat.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/cgnat.toml"));
}
