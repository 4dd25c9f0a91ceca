//! Rebuilds the port-block registry from the appliance's own JSON-lines log after a restart,
//! so "who had 203.0.113.7:40123 at 10:42:07" can still be answered for allocations made
//! before the restart (the registry itself lives in memory).
//!
//! Reads the rotated files oldest first (`file.N` … `file.1`, then `file`) and replays the
//! `block_alloc` / `block_dealloc` lines ([`super::jsonl`] writes them; every block still held
//! at shutdown is logged as released, so a clean stop leaves no record open). Lines that are not
//! ours or do not parse are counted and skipped, never fatal: a log cut by a crash or edited by
//! hand must not keep the daemon from starting.

use crate::registry::PortBlockRegistry;
use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Files read.
    pub files: usize,
    /// Allocations replayed.
    pub allocations: u64,
    /// Releases replayed.
    pub releases: u64,
    /// Lines that were not JSON objects of ours, or had a bad field.
    pub bad_lines: u64,
}

#[derive(Deserialize)]
struct Line {
    ts: String,
    event: String,
    subscriber: Option<Ipv4Addr>,
    public: Option<Ipv4Addr>,
    port_start: Option<u16>,
    port_end: Option<u16>,
}

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` (what [`super::syslog::write_rfc3339_ms`] writes) to Unix
/// milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    // Howard Hinnant's days_from_civil, for years >= 1970 (no negative intermediate values).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2 / 400;
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms)
}

/// The files of a rotated log, oldest first: `path.keep` … `path.1`, `path` (those that exist).
pub fn rotated_files(path: &Path, keep: usize) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = (1..=keep)
        .rev()
        .map(|n| {
            let mut s = path.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        })
        .collect();
    v.push(path.to_path_buf());
    v.into_iter().filter(|p| p.is_file()).collect()
}

/// Replays the block events of `files` (oldest first) into `reg`.
pub fn replay_jsonl(
    reg: &mut PortBlockRegistry,
    files: &[PathBuf],
) -> std::io::Result<ReplayStats> {
    let mut st = ReplayStats::default();
    for f in files {
        let r = BufReader::new(std::fs::File::open(f)?);
        st.files += 1;
        for line in r.lines() {
            let Ok(line) = line else {
                st.bad_lines += 1;
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            let Ok(l) = serde_json::from_str::<Line>(&line) else {
                st.bad_lines += 1;
                continue;
            };
            let (Some(at), Some(public), Some(start)) =
                (parse_rfc3339_ms(&l.ts), l.public, l.port_start)
            else {
                if l.event == "block_alloc" || l.event == "block_dealloc" {
                    st.bad_lines += 1;
                }
                continue;
            };
            match (l.event.as_str(), l.subscriber, l.port_end) {
                ("block_alloc", Some(sub), Some(end)) => {
                    if reg.allocate(public, start, end, sub, at) {
                        st.allocations += 1;
                    } else {
                        st.bad_lines += 1;
                    }
                }
                ("block_dealloc", _, _) if reg.release(public, start, at) => st.releases += 1,
                ("block_alloc", _, _) => st.bad_lines += 1,
                _ => {}
            }
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::logging::syslog::write_rfc3339_ms;

    #[test]
    fn timestamps_round_trip() {
        for ms in [0u64, 1_700_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            let mut s = String::new();
            write_rfc3339_ms(&mut s, ms);
            assert_eq!(parse_rfc3339_ms(&s), Some(ms), "{s}");
        }
        for bad in [
            "",
            "2026-11-21T10:42:07Z",
            "2026-13-21T10:42:07.123Z",
            "2026-11-21 10:42:07.123Z",
            "2026-11-21T10:4x:07.123Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
