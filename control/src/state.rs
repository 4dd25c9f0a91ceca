//! Runtime state: the API changes that must outlive the process (`api.state_file`).
//!
//! Two management actions change what the appliance is rather than how it behaves, and an
//! operator expects them to hold after a restart the way a router keeps its saved
//! configuration: public addresses **added to the pool** and public addresses **being
//! drained**. They are kept in a small JSON file, rewritten atomically (temporary file,
//! `fsync`, rename) after every such change, and merged into the configuration file's
//! contents whenever cgnatd reads it (start-up, `--check-config`, SIGHUP), so the running pool
//! never silently shrinks on a reload. The configuration file stays the operator's: nothing
//! here edits it, and a prefix later added to the file is simply already present.
//!
//! The file is never trusted blindly: an entry that no longer fits (a deterministic pool, an
//! entry that is invalid with the current file) is skipped with a warning the caller logs.

use crate::config::{Config, PoolEntry, PoolMode};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Version written in the file; a file with another version is refused.
pub const STATE_VERSION: u32 = 1;

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading, writing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a state file this version understands.
    #[error("{path}: not a cgnat state file: {problem}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// What `api.state_file` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Pool entries added through the API, in order.
    #[serde(default)]
    pub pool_added: Vec<PoolEntry>,
    /// Public addresses being drained.
    #[serde(default)]
    pub drained: Vec<Ipv4Addr>,
}

impl RuntimeState {
    /// An empty state.
    pub fn new() -> Self {
        Self {
            version: STATE_VERSION,
            ..Self::default()
        }
    }

    /// Reads `path`; a missing file is an empty state (first start).
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new()),
            Err(source) => {
                return Err(StateError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let s: Self = serde_json::from_str(&text).map_err(|e| StateError::Parse {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        if s.version != STATE_VERSION {
            return Err(StateError::Parse {
                path: path.to_owned(),
                problem: format!("version {} (this cgnatd writes {STATE_VERSION})", s.version),
            });
        }
        Ok(s)
    }

    /// Writes `path` atomically: a crash leaves the old or the new file, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| StateError::Parse {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Merges the added pool entries into `cfg` (skipping, with a warning each, entries a
    /// deterministic pool cannot take, entries already covered, and entries the configuration
    /// refuses) and forgets drained addresses that are not pool addresses of the result.
    /// Returns the warnings.
    pub fn merge_into(&mut self, cfg: &mut Config) -> Vec<String> {
        let mut warnings = Vec::new();
        for e in &self.pool_added {
            if cfg.pool.mode == PoolMode::Deterministic {
                warnings.push(format!(
                    "state: pool entry {e} added through the API ignored: pool.mode is deterministic"
                ));
                continue;
            }
            let before = cfg.pool.address_count();
            let mut next = cfg.clone();
            next.pool.prefixes.push(*e);
            if next.pool.address_count() == before {
                // Already in the file (the operator saved it there): nothing to add.
                continue;
            }
            match next.validate() {
                Ok(()) => *cfg = next,
                Err(err) => warnings.push(format!(
                    "state: pool entry {e} added through the API ignored: {err}"
                )),
            }
        }
        let pool = &cfg.pool;
        self.drained.retain(|a| {
            let ok = pool.contains(*a);
            if !ok {
                warnings.push(format!(
                    "state: drained address {a} is no longer a pool address; forgotten"
                ));
            }
            ok
        });
        warnings
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg() -> Config {
        Config::from_toml_str(
            r#"
eal.args = []
inside.device = "a"
inside.address = "100.64.0.1/10"
outside.device = "b"
outside.address = "198.51.100.1/24"
pool.prefixes = ["203.0.113.0/30"]
"#,
        )
        .unwrap()
    }

    /// A fresh directory of its own for each test.
    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cgnat-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_file_is_empty_and_save_load_round_trips() {
        let p = tempdir("roundtrip").join("sub/state.json");
        assert_eq!(RuntimeState::load(&p).unwrap(), RuntimeState::new());
        let mut s = RuntimeState::new();
        s.pool_added.push("198.51.100.0/30".parse().unwrap());
        s.drained.push(Ipv4Addr::new(203, 0, 113, 1));
        s.save(&p).unwrap();
        assert_eq!(RuntimeState::load(&p).unwrap(), s);
        assert!(!p.with_extension("tmp").exists());
    }

    #[test]
    fn damaged_or_foreign_files_are_refused_with_the_path() {
        let p = tempdir("damaged").join("state.json");
        for text in ["{", "{\"version\": 2}", "{\"version\": 1, \"x\": 1}", "[]"] {
            std::fs::write(&p, text).unwrap();
            let e = RuntimeState::load(&p).unwrap_err().to_string();
            assert!(
                e.contains("state.json") && e.contains("not a cgnat state file"),
                "{e}"
            );
        }
    }

    #[test]
    fn merge_adds_new_entries_skips_covered_ones_and_forgets_strays() {
        let mut c = cfg();
        let n = c.pool.address_count();
        let mut s = RuntimeState::new();
        let existing = c.pool.addresses()[0];
        s.pool_added.push("192.0.2.64/30".parse().unwrap());
        s.pool_added.push(PoolEntry::Range {
            first: existing,
            last: existing,
        });
        s.drained.push(existing);
        s.drained.push(Ipv4Addr::new(192, 0, 2, 65));
        s.drained.push(Ipv4Addr::new(192, 0, 2, 1));
        // Refused by the configuration: inside the outside network.
        s.pool_added.push("198.51.100.64/30".parse().unwrap());
        let w = s.merge_into(&mut c);
        assert_eq!(c.pool.address_count(), n + 4);
        assert!(c.pool.contains(Ipv4Addr::new(192, 0, 2, 66)));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("198.51.100.64/30"), "{w:?}");
        assert!(w[1].contains("192.0.2.1 "), "{w:?}");
        assert_eq!(s.drained, vec![existing, Ipv4Addr::new(192, 0, 2, 65)]);
    }
}
