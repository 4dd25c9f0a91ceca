//! Live reconfiguration on SIGHUP: re-read the config file, and if only live keys changed,
//! publish the new [`LiveConfig`] snapshot to every worker (picked up between bursts, within
//! about a millisecond). All or nothing: a file that does not validate, or that changes any
//! restart-only key, is refused with one log line naming the reason, and nothing changes.
//!
//! Live keys: `[timeouts]` (per-port override values, not the list), `limits.
//! max_sessions_per_subscriber`, `limits.icmp_errors_per_second`, `nat.tcp_mss_clamp`,
//! `logging.sessions`, `logging.session_prefixes`, `logging.session_destinations`, `[alg]`
//! except the table sizes (`alg.ftp`, `alg.tftp`, `alg.h323`, `alg.max_expectations_per_session`,
//! `alg.expectation_timeout_secs`).

use crate::convert::worker_config;
use control::Config;
use crossbeam_queue::ArrayQueue;
use dataplane::live::LiveConfig;
use std::path::Path;
use std::sync::Arc;

/// One worker's inbox of snapshots (bounded; the newest wins if several are waiting).
pub type LiveInbox = Arc<ArrayQueue<Arc<LiveConfig>>>;

/// Snapshots a worker inbox holds before a reload is refused as "workers not keeping up".
pub const INBOX: usize = 4;

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file does not load or validate.
    #[error("{0}")]
    Invalid(String),
    /// Restart-only settings changed.
    #[error("these settings need a restart: {0}; nothing was applied")]
    NeedsRestart(String),
    /// A worker has not picked up earlier snapshots.
    #[error("worker {0} has not picked up the previous configuration yet; nothing was applied")]
    Busy(usize),
}

/// The config with every live key replaced by `from`'s value: equal to `from` iff only live
/// keys differ.
fn without_live(c: &Config, from: &Config) -> Config {
    let mut x = c.clone();
    x.timeouts = from.timeouts.clone();
    x.limits.max_sessions_per_subscriber = from.limits.max_sessions_per_subscriber;
    x.limits.icmp_errors_per_second = from.limits.icmp_errors_per_second;
    x.nat.tcp_mss_clamp = from.nat.tcp_mss_clamp;
    x.logging.sessions = from.logging.sessions;
    x.logging.session_prefixes = from.logging.session_prefixes.clone();
    x.logging.session_destinations = from.logging.session_destinations;
    x.alg.ftp = from.alg.ftp.clone();
    x.alg.tftp = from.alg.tftp.clone();
    x.alg.h323 = from.alg.h323.clone();
    x.alg.rtsp = from.alg.rtsp.clone();
    x.alg.pptp = from.alg.pptp.clone();
    x.alg.sip = from.alg.sip.clone();
    x.alg.max_expectations_per_session = from.alg.max_expectations_per_session;
    x.alg.expectation_timeout_secs = from.alg.expectation_timeout_secs;
    x
}

/// Names the restart-only sections that differ between `old` and `new`.
fn restart_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let n = without_live(new, old);
    let mut v = Vec::new();
    macro_rules! cmp {
        ($($f:ident),*) => { $( if n.$f != old.$f { v.push(stringify!($f)); } )* };
    }
    cmp!(eal, inside, outside, pool, dataplane, arp, limits, fragments, nat, logging, api, alg);
    if n != *old && v.is_empty() {
        v.push("(other)");
    }
    v
}

/// Reads `path` and, if only live keys changed relative to `current`, publishes the new
/// snapshot to `inboxes`; on success `current` becomes the new config. Returns the live
/// sections that changed.
pub fn reload(
    path: &Path,
    current: &mut Config,
    inboxes: &[LiveInbox],
) -> Result<Vec<&'static str>, ReloadError> {
    let new = crate::daemon::load(path).map_err(ReloadError::Invalid)?;
    let r = restart_sections(current, &new);
    if !r.is_empty() {
        let keys: Vec<String> = r.iter().map(|s| format!("[{s}]")).collect();
        return Err(ReloadError::NeedsRestart(keys.join(", ")));
    }
    let old_wc = worker_config(current, 0, [0; 6], [0; 6], 0)
        .map_err(|e| ReloadError::Invalid(e.to_string()))?;
    let new_wc = worker_config(&new, 0, [0; 6], [0; 6], 0)
        .map_err(|e| ReloadError::Invalid(e.to_string()))?;
    let live = LiveConfig::of(&new_wc);
    live.check_against(&old_wc)
        .map_err(|e| ReloadError::NeedsRestart(e.to_string()))?;
    if let Some(i) = inboxes.iter().position(|q| q.is_full()) {
        return Err(ReloadError::Busy(i));
    }
    let snap = Arc::new(live);
    for q in inboxes {
        // Not full (checked above, and only this thread pushes).
        let _ = q.push(Arc::clone(&snap));
    }
    let mut changed = Vec::new();
    if new.timeouts != current.timeouts {
        changed.push("timeouts");
    }
    if new.limits != current.limits {
        changed.push("limits");
    }
    if new.nat != current.nat {
        changed.push("nat");
    }
    if new.logging != current.logging {
        changed.push("logging");
    }
    if new.alg != current.alg {
        changed.push("alg");
    }
    *current = new;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BASE: &str = r#"
[eal]
args = ["--no-huge"]
[inside]
device = "net_null0"
address = "100.64.0.1/10"
[outside]
device = "net_null1"
address = "198.51.100.1/24"
next_hop = "198.51.100.2"
[pool]
prefixes = ["203.0.113.0/24"]
"#;

    fn write(dir: &Path, extra: &str) -> std::path::PathBuf {
        let p = dir.join("c.toml");
        std::fs::write(&p, format!("{BASE}{extra}")).unwrap();
        p
    }

    fn setup() -> (std::path::PathBuf, Config, Vec<LiveInbox>) {
        let dir = std::env::temp_dir().join(format!(
            "cgnat-reload-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = write(&dir, "");
        let cfg = crate::daemon::load(&p).unwrap();
        let inboxes = (0..2).map(|_| Arc::new(ArrayQueue::new(INBOX))).collect();
        (dir, cfg, inboxes)
    }

    #[test]
    fn live_keys_are_published_to_every_worker() {
        let (dir, mut cfg, inboxes) = setup();
        let p = write(
            &dir,
            "[timeouts]\nudp = 600\n[logging]\nsessions = true\nsession_destinations = true\n",
        );
        let changed = reload(&p, &mut cfg, &inboxes).unwrap();
        assert_eq!(changed, vec!["timeouts", "logging"]);
        for q in &inboxes {
            let s = q.pop().unwrap();
            assert_eq!(s.timeouts.udp, 600);
            assert!(s.session_log.enabled && s.session_log.destinations);
        }
        assert_eq!(cfg.timeouts.udp, 600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn restart_keys_are_refused_and_nothing_changes() {
        let (dir, mut cfg, inboxes) = setup();
        let before = cfg.clone();
        let p = write(&dir, "[timeouts]\nudp = 600\n[dataplane]\nworkers = 2\n");
        let e = reload(&p, &mut cfg, &inboxes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "these settings need a restart: [dataplane]; nothing was applied"
        );
        assert_eq!(cfg, before);
        assert!(inboxes.iter().all(|q| q.is_empty()));
        // Invalid values: refused with the validator's message.
        let p = write(&dir, "[timeouts]\nudp = 5\n");
        let e = reload(&p, &mut cfg, &inboxes).unwrap_err();
        assert!(e.to_string().contains("timeouts.udp"), "{e}");
        // Adding a per-port override needs a restart too.
        let p = write(
            &dir,
            "[[timeouts.port]]\nprotocol = \"udp\"\nport = 53\ntimeout = 30\n",
        );
        let e = reload(&p, &mut cfg, &inboxes).unwrap_err();
        assert!(e.to_string().contains("restart"), "{e}");
        assert_eq!(cfg, before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn alg_switches_and_ports_are_live_table_sizes_are_not() {
        let (dir, mut cfg, inboxes) = setup();
        let p = write(
            &dir,
            "[alg.ftp]\nenabled = false\nports = [21, 2121]\n[alg.h323]\nenabled = true\n\
             ras_ports = [1719, 11719]\n[alg]\nexpectation_timeout_secs = 60\n\
             [alg.rtsp]\nenabled = true\nports = [554, 8554]\ndestination = \"strip\"\n\
             [alg.pptp]\nenabled = true\nports = [1723, 11723]\ngre_timeout_secs = 120\n\
             [alg.sip]\nenabled = true\nports = [5060, 5080]\nmax_expectations_per_subscriber = 8\n\
             register_max_secs = 600\n",
        );
        let changed = reload(&p, &mut cfg, &inboxes).unwrap();
        assert_eq!(changed, vec!["alg"]);
        for q in &inboxes {
            let s = q.pop().unwrap();
            assert!(!s.alg.ftp.enabled);
            assert_eq!(s.alg.ftp.ports(), &[21, 2121]);
            assert!(!s.alg.tftp.enabled && s.alg.tftp.has(69));
            assert!(s.alg.h323.enabled && s.alg.h323.ports() == [1720]);
            assert!(s.alg.h323_ras.enabled && s.alg.h323_ras.ports() == [1719, 11719]);
            assert_eq!(s.alg.expectation_timeout_secs, 60);
            assert!(s.alg.rtsp.enabled);
            assert_eq!(s.alg.rtsp.ports(), &[554, 8554]);
            assert_eq!(
                s.alg.rtsp_destination,
                dataplane::alg_glue::RtspDestinationPolicy::Strip
            );
            assert!(s.alg.pptp.enabled);
            assert_eq!(s.alg.pptp.ports(), &[1723, 11723]);
            assert_eq!(s.alg.pptp_gre_timeout_secs, 120);
            assert!(s.alg.sip.enabled);
            assert_eq!(s.alg.sip.ports(), &[5060, 5080]);
            assert_eq!(s.alg.sip_max_expectations_per_subscriber, 8);
            assert_eq!(s.alg.sip_register_max_secs, 600);
        }
        let p = write(&dir, "[alg]\nmax_expectations_per_worker = 10\n");
        let e = reload(&p, &mut cfg, &inboxes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "these settings need a restart: [alg]; nothing was applied"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_worker_that_does_not_keep_up_blocks_the_reload() {
        let (dir, mut cfg, inboxes) = setup();
        for i in 0..INBOX {
            let p = write(&dir, &format!("[timeouts]\nudp = {}\n", 200 + i));
            reload(&p, &mut cfg, &inboxes).unwrap();
        }
        let p = write(&dir, "[timeouts]\nudp = 999\n");
        assert!(matches!(
            reload(&p, &mut cfg, &inboxes),
            Err(ReloadError::Busy(0))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
