//! `cgnatd --bench`: the built-in generator runs a tiny profile against the real poll loop on
//! DPDK rings and reports a consistent result: everything sent came back translated (no loss
//! without a bottleneck), the bindings the profile asks for exist, and the same I/O path with
//! translation off forwards too. Numbers are not asserted (that is `make bench`'s job).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn field(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

fn run(profile: &str, extra: &[&str]) -> String {
    let p =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../pktgen-profiles/builtin/").to_string() + profile;
    let o = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--bench")
        .arg(&p)
        .args(extra)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "cgnatd --bench failed: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.lines().last().unwrap().to_string()
}

#[test]
fn bench_smoke_translates_everything_it_sends() {
    let j = run("smoke.toml", &[]);
    assert!(j.contains("\"translate\":true"));
    let flows = field(&j, "flows");
    assert_eq!(
        field(&j, "bindings"),
        flows,
        "one binding per flow after the preliminary phase: {j}"
    );
    assert!(field(&j, "received_out") > 0.0, "{j}");
    assert_eq!(field(&j, "lost_out"), 0.0, "{j}");
    assert_eq!(field(&j, "worker_drops"), 0.0, "{j}");
    assert!(field(&j, "mpps") > 0.0);
    // The same path with translation off (run after, not in parallel: each run busy-polls
    // both cores).
    let j = run("smoke.toml", &["--no-translate"]);
    assert!(j.contains("\"translate\":false"));
    assert_eq!(field(&j, "bindings"), 0.0, "{j}");
    assert!(field(&j, "received_out") > 0.0, "{j}");
    assert_eq!(field(&j, "lost_out"), 0.0, "{j}");
}

#[test]
fn bench_rejects_a_bad_profile() {
    let dir = std::env::temp_dir().join(format!("cgnat-bench-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.toml");
    std::fs::write(&p, "name = \"x\"\nscenario = \"throughput\"\nframe_sizes = [64]\nweights = [1]\nsubscribers = 0\nports_per_subscriber = 1\nservers = 1\npreliminary_secs = 0\nduration_secs = 1\nbidirectional = false\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cgnatd"))
        .arg("--bench")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("subscribers"));
}
