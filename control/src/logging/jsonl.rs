//! JSON Lines event logs: one JSON object per [`LogEvent`], and a size-rotated file to put
//! them in.
//!
//! This module owns the JSON form of an event and the local log file. JSON lines are for
//! operators who ship logs with a generic agent (Vector, Fluent Bit, Filebeat) rather than run a
//! syslog or IPFIX collector; the fields are the same as the syslog ones, with readable keys.
//!
//! The serializer is written by hand rather than with `serde_json`: every value is a number, a
//! dotted-quad address or one of our own constant words, so no string ever needs JSON escaping
//! and the control crate needs no extra dependency. Example (RFC 8259 text, one line each):
//!
//! ```text
//! {"ts":"2026-11-21T10:42:07.123Z","event":"block_alloc","subscriber":"100.64.0.7","public":"203.0.113.7","port_start":40960,"port_end":41471}
//! {"ts":"2026-11-21T10:42:07.123Z","event":"session_create","proto":6,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961}
//! ```
//!
//! `ts` is the RFC 3339 UTC time with milliseconds, as in syslog. Keys that do not apply are
//! left out rather than written as `null` (a missing `public` in `ports_exhausted`, `dest` and
//! `dest_port` unless destination logging is on — RFC 6888 REQ-12 — and `ssubix` when the caller
//! has no subscriber index).
//!
//! [`RotatingFile`] bounds the disk a log can take: the live file plus `keep` rotated ones,
//! each at most `max_bytes` (a single line longer than that is written alone into a fresh
//! file). It never panics on I/O errors: every failure is returned and counted, and after a
//! failed write the file is reopened on the next one (a full disk that frees up, a directory
//! recreated) rather than abandoned.

use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::syslog::{write_rfc3339_ms, LogEvent};

/// Formats [`LogEvent`]s as single-line JSON objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonlFormatter {
    destinations: bool,
}

impl JsonlFormatter {
    /// A formatter that leaves destinations out (RFC 6888 REQ-12).
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `dest`/`dest_port` for session events that carry them.
    pub fn with_destinations(mut self, on: bool) -> Self {
        self.destinations = on;
        self
    }

    /// The value of the `event` key for `ev`.
    pub fn event_name(ev: &LogEvent) -> &'static str {
        match ev {
            LogEvent::BlockAlloc { .. } => "block_alloc",
            LogEvent::BlockDealloc { .. } => "block_dealloc",
            LogEvent::BindingCreate { .. } => "binding_create",
            LogEvent::BindingDelete { .. } => "binding_delete",
            LogEvent::SessionCreate { .. } => "session_create",
            LogEvent::SessionDelete { .. } => "session_delete",
            LogEvent::PortsExhausted { .. } => "ports_exhausted",
            LogEvent::AddressesExhausted { .. } => "addresses_exhausted",
            LogEvent::QuotaExceeded { .. } => "quota_exceeded",
        }
    }

    /// Appends the JSON object for `ev` at `at_ms` (Unix milliseconds) to `out`, without a line
    /// terminator ([`RotatingFile::write_line`] adds it).
    pub fn format(&self, ev: &LogEvent, at_ms: u64, out: &mut String) {
        self.format_indexed(ev, None, at_ms, out);
    }

    /// As [`format`](Self::format), with an `ssubix` key when a subscriber index is given.
    pub fn format_indexed(&self, ev: &LogEvent, ssubix: Option<u32>, at_ms: u64, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = self.write_obj(ev, ssubix, at_ms, out);
    }

    fn write_obj(
        &self,
        ev: &LogEvent,
        ssubix: Option<u32>,
        at_ms: u64,
        out: &mut String,
    ) -> fmt::Result {
        out.push_str("{\"ts\":\"");
        write_rfc3339_ms(out, at_ms);
        write!(out, "\",\"event\":\"{}\"", Self::event_name(ev))?;
        let mut o = Obj { out };
        if let Some(ix) = ssubix {
            o.num("ssubix", ix)?;
        }
        match *ev {
            LogEvent::BlockAlloc {
                subscriber,
                public,
                port_start,
                port_end,
            }
            | LogEvent::BlockDealloc {
                subscriber,
                public,
                port_start,
                port_end,
            } => {
                o.addr("subscriber", subscriber)?;
                o.addr("public", public)?;
                o.num("port_start", port_start)?;
                o.num("port_end", port_end)?;
            }
            LogEvent::BindingCreate {
                proto,
                inside,
                inside_port,
                public,
                public_port,
            }
            | LogEvent::BindingDelete {
                proto,
                inside,
                inside_port,
                public,
                public_port,
            } => o.mapping(proto, inside, inside_port, public, public_port)?,
            LogEvent::SessionCreate {
                proto,
                inside,
                inside_port,
                public,
                public_port,
                dest,
            }
            | LogEvent::SessionDelete {
                proto,
                inside,
                inside_port,
                public,
                public_port,
                dest,
            } => {
                o.mapping(proto, inside, inside_port, public, public_port)?;
                if let (true, Some((daddr, dport))) = (self.destinations, dest) {
                    o.addr("dest", daddr)?;
                    o.num("dest_port", dport)?;
                }
            }
            LogEvent::PortsExhausted { subscriber, public } => {
                o.addr("subscriber", subscriber)?;
                if let Some(public) = public {
                    o.addr("public", public)?;
                }
            }
            LogEvent::AddressesExhausted { subscriber } => {
                if let Some(subscriber) = subscriber {
                    o.addr("subscriber", subscriber)?;
                }
            }
            LogEvent::QuotaExceeded { subscriber, kind } => {
                o.addr("subscriber", subscriber)?;
                // A constant word of [a-z-]: nothing to escape.
                write!(o.out, ",\"quota\":\"{}\"", kind.as_str())?;
            }
        }
        o.out.push('}');
        Ok(())
    }
}

/// Appends members to an open JSON object. Keys are our own constants (no escaping needed).
struct Obj<'a> {
    out: &'a mut String,
}

impl Obj<'_> {
    fn num(&mut self, key: &str, v: impl Into<u64>) -> fmt::Result {
        write!(self.out, ",\"{key}\":{}", v.into())
    }

    fn addr(&mut self, key: &str, a: Ipv4Addr) -> fmt::Result {
        write!(self.out, ",\"{key}\":\"{a}\"")
    }

    fn mapping(
        &mut self,
        proto: u8,
        inside: Ipv4Addr,
        inside_port: u16,
        public: Ipv4Addr,
        public_port: u16,
    ) -> fmt::Result {
        self.num("proto", proto)?;
        self.addr("inside", inside)?;
        self.num("inside_port", inside_port)?;
        self.addr("public", public)?;
        self.num("public_port", public_port)
    }
}

/// Size of the write buffer in front of the file; lines are flushed at rotation, on
/// [`RotatingFile::flush`] and on drop.
const BUF_BYTES: usize = 64 * 1024;

/// An append-only log file rotated by size: `path` is live; at the limit it becomes `path.1`,
/// `path.1` becomes `path.2`, ..., and `path.<keep>` is deleted.
///
/// Disk use is bounded by `(keep + 1) * max_bytes` (plus one over-long line), memory by the
/// 64 KiB write buffer. Call [`flush`](Self::flush) after each batch of events so a crash
/// loses at most one batch.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<BufWriter<File>>,
    size: u64,
    failures: u64,
    rotations: u64,
}

impl RotatingFile {
    /// Opens (creating, appending) `path`. `max_bytes` of 0 is treated as 1 (every line gets
    /// its own file); `keep` of 0 keeps no rotated file (the live one is truncated).
    pub fn open(path: impl Into<PathBuf>, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let mut rf = Self {
            path: path.into(),
            max_bytes: max_bytes.max(1),
            keep,
            file: None,
            size: 0,
            failures: 0,
            rotations: 0,
        };
        rf.reopen()?;
        Ok(rf)
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of rotated file `n` (1 = newest): `path` with `.n` appended.
    pub fn rotated_path(&self, n: usize) -> PathBuf {
        let mut s = OsString::from(self.path.as_os_str());
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    /// Bytes in the live file, counting buffered ones.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// I/O failures so far (each failed write, flush, rotation or reopen counts once).
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Rotations so far.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Appends `line` and a `\n` (do not include one), rotating first if the live file would
    /// pass `max_bytes`. On error the line is lost, the failure counted, and the file reopened
    /// on the next call.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        let res = self.try_write_line(line);
        if res.is_err() {
            self.failures += 1;
            // Drop the handle (its buffered bytes may be partial); reopen on the next write.
            self.file = None;
        }
        res
    }

    fn try_write_line(&mut self, line: &str) -> io::Result<()> {
        let len = u64::try_from(line.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if self.file.is_none() {
            self.reopen_inner()?;
        }
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.rotate_inner()?;
        }
        let w = self.file.as_mut().ok_or_else(not_open)?;
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
        self.size = self.size.saturating_add(len);
        Ok(())
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        let res = match self.file.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        };
        if res.is_err() {
            self.failures += 1;
            self.file = None;
        }
        res
    }

    /// Closes and reopens the live file (e.g. on SIGHUP after an external tool moved it).
    pub fn reopen(&mut self) -> io::Result<()> {
        let res = self.reopen_inner();
        if res.is_err() {
            self.failures += 1;
        }
        res
    }

    fn reopen_inner(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.file.take() {
            // Best effort: a failed flush of the old handle must not stop the reopen.
            if w.flush().is_err() {
                self.failures += 1;
            }
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = f.metadata()?.len();
        self.file = Some(BufWriter::with_capacity(BUF_BYTES, f));
        Ok(())
    }

    /// Rotates now, whatever the size.
    pub fn rotate(&mut self) -> io::Result<()> {
        let res = self.rotate_inner();
        if res.is_err() {
            self.failures += 1;
            self.file = None;
        }
        res
    }

    fn rotate_inner(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.file.take() {
            w.flush()?;
        }
        if self.keep == 0 {
            remove_if_exists(&self.path)?;
        } else {
            remove_if_exists(&self.rotated_path(self.keep))?;
            for n in (1..self.keep).rev() {
                rename_if_exists(&self.rotated_path(n), &self.rotated_path(n + 1))?;
            }
            rename_if_exists(&self.path, &self.rotated_path(1))?;
        }
        self.rotations += 1;
        self.reopen_inner()
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        if let Some(w) = self.file.as_mut() {
            // Nothing to report to at this point; the error is ignored, never panicked on.
            let _ = w.flush();
        }
    }
}

fn not_open() -> io::Error {
    io::Error::other("log file not open")
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::syslog::QuotaKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    const TS: u64 = 1_795_257_727_123;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "cgnat-jsonl-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn line(f: JsonlFormatter, ev: &LogEvent) -> String {
        let mut s = String::new();
        f.format(ev, TS, &mut s);
        s
    }

    #[test]
    fn every_event_has_its_exact_line() {
        let f = JsonlFormatter::new();
        let (sub, public) = (ip("100.64.0.7"), ip("203.0.113.7"));
        let map = (6, sub, 51000, public, 40961);
        let dest = Some((ip("198.51.100.9"), 443));
        let cases = [
            (
                LogEvent::BlockAlloc {
                    subscriber: sub,
                    public,
                    port_start: 40960,
                    port_end: 41471,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"block_alloc","subscriber":"100.64.0.7","public":"203.0.113.7","port_start":40960,"port_end":41471}"#,
            ),
            (
                LogEvent::BlockDealloc {
                    subscriber: sub,
                    public,
                    port_start: 40960,
                    port_end: 41471,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"block_dealloc","subscriber":"100.64.0.7","public":"203.0.113.7","port_start":40960,"port_end":41471}"#,
            ),
            (
                LogEvent::BindingCreate {
                    proto: map.0,
                    inside: map.1,
                    inside_port: map.2,
                    public: map.3,
                    public_port: map.4,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"binding_create","proto":6,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961}"#,
            ),
            (
                LogEvent::BindingDelete {
                    proto: 17,
                    inside: map.1,
                    inside_port: map.2,
                    public: map.3,
                    public_port: map.4,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"binding_delete","proto":17,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961}"#,
            ),
            (
                LogEvent::SessionCreate {
                    proto: 6,
                    inside: sub,
                    inside_port: 51000,
                    public,
                    public_port: 40961,
                    dest,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"session_create","proto":6,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961}"#,
            ),
            (
                LogEvent::SessionDelete {
                    proto: 6,
                    inside: sub,
                    inside_port: 51000,
                    public,
                    public_port: 40961,
                    dest: None,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"session_delete","proto":6,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961}"#,
            ),
            (
                LogEvent::PortsExhausted {
                    subscriber: sub,
                    public: Some(public),
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"ports_exhausted","subscriber":"100.64.0.7","public":"203.0.113.7"}"#,
            ),
            (
                LogEvent::AddressesExhausted { subscriber: None },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"addresses_exhausted"}"#,
            ),
            (
                LogEvent::QuotaExceeded {
                    subscriber: sub,
                    kind: QuotaKind::Sessions,
                },
                r#"{"ts":"2026-11-21T10:42:07.123Z","event":"quota_exceeded","subscriber":"100.64.0.7","quota":"sessions"}"#,
            ),
        ];
        for (ev, want) in cases {
            assert_eq!(line(f, &ev), want);
        }

        let with_dest = LogEvent::SessionCreate {
            proto: 6,
            inside: sub,
            inside_port: 51000,
            public,
            public_port: 40961,
            dest,
        };
        assert_eq!(
            line(f.with_destinations(true), &with_dest),
            r#"{"ts":"2026-11-21T10:42:07.123Z","event":"session_create","proto":6,"inside":"100.64.0.7","inside_port":51000,"public":"203.0.113.7","public_port":40961,"dest":"198.51.100.9","dest_port":443}"#
        );
        let mut s = String::new();
        f.format_indexed(
            &LogEvent::AddressesExhausted {
                subscriber: Some(sub),
            },
            Some(3),
            0,
            &mut s,
        );
        assert_eq!(
            s,
            r#"{"ts":"1970-01-01T00:00:00.000Z","event":"addresses_exhausted","ssubix":3,"subscriber":"100.64.0.7"}"#
        );
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn rotates_at_the_limit_and_keeps_n_files() {
        let dir = TempDir::new();
        let path = dir.0.join("events.jsonl");
        // Lines of 9 bytes + '\n' = 10; the limit holds exactly 3.
        let mut rf = RotatingFile::open(&path, 30, 2).unwrap();
        for i in 0..3 {
            rf.write_line(&format!("line-{i:04}")).unwrap();
        }
        assert_eq!(rf.size(), 30);
        assert_eq!(rf.rotations(), 0, "exactly at the limit is not over it");
        assert!(!rf.rotated_path(1).exists());

        rf.write_line("line-0003").unwrap();
        assert_eq!(rf.rotations(), 1);
        assert_eq!(rf.size(), 10);
        rf.flush().unwrap();
        assert_eq!(
            read(&rf.rotated_path(1)),
            "line-0000\nline-0001\nline-0002\n"
        );
        assert_eq!(read(&path), "line-0003\n");

        for i in 4..12 {
            rf.write_line(&format!("line-{i:04}")).unwrap();
        }
        rf.flush().unwrap();
        // 12 lines, 3 per file: [0-2] [3-5] [6-8] [9-11]. Three rotations; with keep = 2
        // the oldest, [0-2], was deleted by the third.
        assert_eq!(rf.rotations(), 3);
        assert_eq!(read(&path), "line-0009\nline-0010\nline-0011\n");
        assert_eq!(
            read(&rf.rotated_path(1)),
            "line-0006\nline-0007\nline-0008\n"
        );
        assert_eq!(
            read(&rf.rotated_path(2)),
            "line-0003\nline-0004\nline-0005\n"
        );
        assert!(!rf.rotated_path(3).exists(), "keep = 2 is respected");
        let files = fs::read_dir(&dir.0).unwrap().count();
        assert_eq!(files, 3);
        assert_eq!(rf.failures(), 0);
    }

    #[test]
    fn reopening_appends_and_counts_existing_size() {
        let dir = TempDir::new();
        let path = dir.0.join("e.jsonl");
        {
            let mut rf = RotatingFile::open(&path, 1000, 1).unwrap();
            rf.write_line("a").unwrap();
        } // flushed on drop
        let mut rf = RotatingFile::open(&path, 1000, 1).unwrap();
        assert_eq!(rf.size(), 2);
        rf.write_line("b").unwrap();
        rf.flush().unwrap();
        assert_eq!(read(&path), "a\nb\n");
    }

    #[test]
    fn keep_zero_truncates_and_long_lines_get_their_own_file() {
        let dir = TempDir::new();
        let path = dir.0.join("e.jsonl");
        let mut rf = RotatingFile::open(&path, 5, 0).unwrap();
        rf.write_line("abc").unwrap();
        rf.write_line("a-very-long-line").unwrap();
        rf.flush().unwrap();
        assert_eq!(read(&path), "a-very-long-line\n");
        assert!(!rf.rotated_path(1).exists());
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    #[test]
    fn io_errors_are_returned_and_counted_then_recovered() {
        let dir = TempDir::new();
        let sub = dir.0.join("sub");
        fs::create_dir(&sub).unwrap();
        let path = sub.join("e.jsonl");
        let mut rf = RotatingFile::open(&path, 10, 1).unwrap();
        rf.write_line("123456789").unwrap();
        // The directory disappears: the rotation forced by the next line cannot rename or
        // reopen.
        rf.flush().unwrap();
        fs::remove_dir_all(&sub).unwrap();
        assert!(rf.write_line("again").is_err());
        assert_eq!(rf.failures(), 1);
        assert!(rf.write_line("again").is_err());
        assert_eq!(rf.failures(), 2);
        // It comes back: the next write reopens.
        fs::create_dir(&sub).unwrap();
        rf.write_line("back").unwrap();
        rf.flush().unwrap();
        assert_eq!(read(&path), "back\n");
        // A path that can never be opened fails at open without panicking.
        assert!(RotatingFile::open(dir.0.join("missing/dir/x"), 10, 1).is_err());
    }
}
