//! The port-block registry rebuilt from the appliance's own rotated JSON-lines log (what
//! `cgnatd` does at start-up): allocations and releases from before a restart answer abuse
//! lookups again; damaged lines are counted and skipped.
#![allow(clippy::unwrap_used)]

use control::logging::jsonl::{JsonlFormatter, RotatingFile};
use control::logging::replay::{replay_jsonl, rotated_files};
use control::logging::syslog::LogEvent;
use control::registry::PortBlockRegistry;
use std::io::Write;
use std::net::Ipv4Addr;

const T0: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;

#[test]
fn registry_is_rebuilt_from_rotated_json_logs() {
    let dir = std::env::temp_dir().join(format!("cgnat-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.jsonl");
    let pubip = Ipv4Addr::new(203, 0, 113, 7);
    let (a, b) = (Ipv4Addr::new(100, 64, 0, 7), Ipv4Addr::new(100, 64, 0, 9));
    {
        // Small files: the history spreads over several rotations.
        let mut f = RotatingFile::open(&path, 4096, 10).unwrap();
        let fmt = JsonlFormatter::new();
        let mut line = String::new();
        let mut put = |ev: LogEvent, at: u64| {
            line.clear();
            fmt.format(&ev, at, &mut line);
            f.write_line(&line).unwrap();
        };
        // Filler subscribers, to force rotations.
        for i in 0..100u16 {
            put(
                LogEvent::BlockAlloc {
                    subscriber: Ipv4Addr::new(100, 64, 1, 1),
                    public: Ipv4Addr::new(203, 0, 113, 200),
                    port_start: 1024 + (i % 100) * 512 % 64000,
                    port_end: 1024 + (i % 100) * 512 % 64000 + 511,
                },
                T0 + u64::from(i),
            );
        }
        put(
            LogEvent::BlockAlloc {
                subscriber: a,
                public: pubip,
                port_start: 40960,
                port_end: 41471,
            },
            T0 + HOUR,
        );
        put(
            LogEvent::BlockDealloc {
                subscriber: a,
                public: pubip,
                port_start: 40960,
                port_end: 41471,
            },
            T0 + 2 * HOUR,
        );
        put(
            LogEvent::BlockAlloc {
                subscriber: b,
                public: pubip,
                port_start: 40960,
                port_end: 41471,
            },
            T0 + 3 * HOUR,
        );
        f.flush().unwrap();
    }
    // A line cut by a crash, and a foreign line.
    let mut raw = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    raw.write_all(b"{\"ts\":\"2026-11-21T10:4\nnot json at all\n")
        .unwrap();
    drop(raw);

    let files = rotated_files(&path, 10);
    assert!(files.len() >= 3, "rotations happened: {files:?}");
    let mut reg = PortBlockRegistry::new(1_000_000, 30 * 24 * HOUR);
    let st = replay_jsonl(&mut reg, &files).unwrap();
    assert_eq!(st.allocations, 102);
    assert_eq!(st.releases, 1);
    assert_eq!(st.bad_lines, 2);
    let who = |at: u64| reg.lookup(pubip, 41000, at).map(|r| r.subscriber);
    assert_eq!(who(T0 + HOUR / 2), None, "before any allocation");
    assert_eq!(who(T0 + HOUR + 1), Some(a));
    assert_eq!(
        who(T0 + 2 * HOUR + HOUR / 2),
        None,
        "between release and reuse"
    );
    assert_eq!(who(T0 + 3 * HOUR + 1), Some(b));
    std::fs::remove_dir_all(&dir).unwrap();
}
