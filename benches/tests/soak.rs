//! `soak` in quick mode (10 rounds, 800 000 bindings, 1.2 simulated hours): the binary itself
//! asserts that every round ends with empty tables, balanced created/expired counters and the
//! heap exactly at its first-round size; this test checks it ran to the end and reported that.

use std::process::Command;

#[test]
fn churn_leaves_no_state_and_no_heap_growth() {
    let out = Command::new(env!("CARGO_BIN_EXE_soak"))
        .env("CGNAT_BENCH_QUICK", "1")
        .output()
        .expect("run soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "soak failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "\"rounds\": 10",
        "\"bindings_created\": 800000",
        "\"sessions_created\": 160000",
        "\"heap_growth_bytes\": 0",
    ] {
        assert!(stdout.contains(want), "missing {want}: {stdout}");
    }
}
