//! Validation of live changes (`ChangeConfig`): every [`ConfigChange`] is checked here against
//! the running configuration before the appliance sees it, and turned into a
//! [`ValidatedChange`] carrying the configuration after the change.
//!
//! Which keys are live: `timeouts.*`, `limits.*`, `logging.*` and `nat.tcp_mss_clamp` (see
//! `docs/config.md`). A `Set` patches the TOML form of the running config, reads it back through
//! the same deserializer as the file (unknown keys and wrong types are refused) and runs the
//! same [`Config::validate`], so a live change can never produce a config the file could not.

use std::net::Ipv4Addr;

use super::model::{AlgStatus, ConfigChange, ValidatedChange};
use super::ApiError;
use crate::config::{Config, PoolMode};

/// Key prefixes that may change without a restart.
pub const LIVE_KEYS: &[&str] = &[
    "timeouts.",
    "limits.",
    "logging.",
    "nat.tcp_mss_clamp",
    "alg.",
];

/// Most ports one ALG may be given.
pub const MAX_ALG_PORTS: usize = 16;

/// Checks `change` against the running config `cfg`, the ALGs the appliance has and the
/// addresses being drained. Errors: INVALID_ARGUMENT for a bad key or value, NOT_FOUND for an
/// unknown ALG, FAILED_PRECONDITION for a change that is valid but not possible now.
pub fn validate(
    cfg: &Config,
    algs: &[AlgStatus],
    draining: &[Ipv4Addr],
    change: ConfigChange,
) -> Result<ValidatedChange, ApiError> {
    let (config, summary) = match &change {
        ConfigChange::Set { key, value } => set(cfg, key, value)?,
        ConfigChange::Alg {
            name,
            enabled,
            ports,
        } => {
            let summary = alg(algs, name, *enabled, ports.as_deref())?;
            let mut new = cfg.clone();
            // ALGs with a `[alg.*]` section change the config; an ALG the appliance reports
            // without one (none in cgnatd today) is left to the appliance's `apply_change`.
            // H.323's `ports` are its call signalling (TCP) ports; `ras_ports` only in the file.
            let switch = match name.to_ascii_lowercase().as_str() {
                "ftp" => Some((&mut new.alg.ftp.enabled, &mut new.alg.ftp.ports)),
                "tftp" => Some((&mut new.alg.tftp.enabled, &mut new.alg.tftp.ports)),
                "h323" => Some((&mut new.alg.h323.enabled, &mut new.alg.h323.ports)),
                "rtsp" => Some((&mut new.alg.rtsp.enabled, &mut new.alg.rtsp.ports)),
                "pptp" => Some((&mut new.alg.pptp.enabled, &mut new.alg.pptp.ports)),
                "sip" => Some((&mut new.alg.sip.enabled, &mut new.alg.sip.ports)),
                _ => None,
            };
            if let Some((switch_enabled, switch_ports)) = switch {
                if let Some(on) = enabled {
                    *switch_enabled = *on;
                }
                if let Some(p) = ports {
                    switch_ports.clone_from(p);
                }
                new.validate()?;
            }
            (new, summary)
        }
        ConfigChange::AddPoolEntry(entry) => {
            if cfg.pool.mode == PoolMode::Deterministic {
                return Err(ApiError::precondition(
                    "pool.mode is \"deterministic\": adding pool addresses would remap every \
                     subscriber; change the config file and restart instead",
                ));
            }
            let mut new = cfg.clone();
            new.pool.prefixes.push(*entry);
            new.validate()?;
            if new.pool.address_count() == cfg.pool.address_count() {
                return Err(ApiError::precondition(format!(
                    "{entry} adds no address: it is already in the pool"
                )));
            }
            let added = new.pool.address_count() - cfg.pool.address_count();
            (new, format!("pool.prefixes += {entry} ({added} addresses)"))
        }
        ConfigChange::Drain(a) => (cfg.clone(), drain(cfg, draining, *a)?),
        ConfigChange::Undrain(a) => {
            if !draining.contains(a) {
                return Err(ApiError::precondition(format!("{a} is not being drained")));
            }
            (cfg.clone(), format!("undrain {a}"))
        }
    };
    Ok(ValidatedChange {
        change,
        config,
        summary,
    })
}

fn set(cfg: &Config, key: &str, value: &str) -> Result<(Config, String), ApiError> {
    if !LIVE_KEYS
        .iter()
        .any(|p| key.starts_with(p) || p.strip_suffix('.') == Some(key))
    {
        return Err(ApiError::invalid(format!(
            "{key} is not a live setting (it needs a restart); live keys: timeouts.*, limits.*, \
             logging.*, nat.tcp_mss_clamp, alg.*"
        )));
    }
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::invalid(format!("{key:?} is not a dotted key")));
    }
    let mut root = toml::Value::try_from(cfg)
        .map_err(|e| ApiError::Internal(format!("running config does not serialize: {e}")))?;
    let (last, path) = parts
        .split_last()
        .ok_or_else(|| ApiError::invalid("empty key"))?;
    let mut table = root
        .as_table_mut()
        .ok_or_else(|| ApiError::Internal("running config is not a table".into()))?;
    for p in path {
        table = table
            .entry((*p).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| ApiError::invalid(format!("{key}: {p} is not a table")))?;
    }
    if value == "none" {
        table.remove(*last);
    } else {
        table.insert((*last).to_owned(), parse_value(value));
    }
    let new: Config = root
        .try_into()
        .map_err(|e: toml::de::Error| ApiError::invalid(format!("{key}: {}", e.message())))?;
    new.validate()?;
    Ok((new, format!("{key} = {value}")))
}

/// A TOML value, or the text as a string when it is not one (`syslog_hostname = cgnat-2`).
fn parse_value(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

fn alg(
    algs: &[AlgStatus],
    name: &str,
    enabled: Option<bool>,
    ports: Option<&[u16]>,
) -> Result<String, ApiError> {
    let Some(a) = algs.iter().find(|a| a.name.eq_ignore_ascii_case(name)) else {
        let known: Vec<&str> = algs.iter().map(|a| a.name.as_str()).collect();
        return Err(ApiError::not_found(format!(
            "unknown ALG {name:?}; known: {}",
            known.join(", ")
        )));
    };
    if enabled.is_none() && ports.is_none() {
        return Err(ApiError::invalid(format!(
            "nothing to change for ALG {}: give enabled and/or ports",
            a.name
        )));
    }
    let mut summary = Vec::new();
    if let Some(on) = enabled {
        summary.push(format!("{} {}", a.name, if on { "on" } else { "off" }));
    }
    if let Some(ports) = ports {
        if ports.is_empty() || ports.len() > MAX_ALG_PORTS {
            return Err(ApiError::invalid(format!(
                "ALG {}: between 1 and {MAX_ALG_PORTS} ports (got {})",
                a.name,
                ports.len()
            )));
        }
        if ports.contains(&0) {
            return Err(ApiError::invalid(format!(
                "ALG {}: port 0 is not valid",
                a.name
            )));
        }
        for (i, p) in ports.iter().enumerate() {
            if ports[..i].contains(p) {
                return Err(ApiError::invalid(format!(
                    "ALG {}: port {p} is listed twice",
                    a.name
                )));
            }
        }
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        summary.push(format!("{} ports = [{}]", a.name, list.join(", ")));
    }
    Ok(summary.join(", "))
}

fn drain(cfg: &Config, draining: &[Ipv4Addr], a: Ipv4Addr) -> Result<String, ApiError> {
    if !cfg.pool.contains(a) {
        return Err(ApiError::invalid(format!("{a} is not a pool address")));
    }
    if cfg.pool.mode == PoolMode::Deterministic {
        return Err(ApiError::precondition(
            "pool.mode is \"deterministic\": every subscriber is fixed to its address; an \
             address cannot be drained",
        ));
    }
    if draining.contains(&a) {
        return Err(ApiError::precondition(format!(
            "{a} is already being drained"
        )));
    }
    let others = cfg.pool.address_count()
        - u64::try_from(draining.iter().filter(|d| cfg.pool.contains(**d)).count())
            .unwrap_or(u64::MAX);
    if others <= 1 {
        return Err(ApiError::precondition(format!(
            "{a} is the last pool address not being drained; new subscribers would have none"
        )));
    }
    Ok(format!("drain {a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
eal.args = []
inside.device = "a"
inside.address = "100.64.0.1/10"
outside.device = "b"
outside.address = "198.51.100.1/24"
pool.prefixes = ["203.0.113.0/30"]
"#;

    fn cfg() -> Config {
        Config::from_toml_str(BASE).unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn set(key: &str, value: &str) -> ConfigChange {
        ConfigChange::Set {
            key: key.into(),
            value: value.into(),
        }
    }

    fn ftp() -> Vec<AlgStatus> {
        vec![AlgStatus {
            name: "ftp".into(),
            enabled: true,
            ports: vec![21],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        }]
    }

    fn err(change: ConfigChange) -> ApiError {
        validate(&cfg(), &ftp(), &[], change).unwrap_err()
    }

    #[test]
    fn set_live_keys() {
        let v = validate(&cfg(), &[], &[], set("timeouts.udp", "600")).unwrap();
        assert_eq!(v.config.timeouts.udp, 600);
        assert_eq!(v.summary, "timeouts.udp = 600");
        let v = validate(&cfg(), &[], &[], set("logging.syslog_hostname", "cgn-2")).unwrap();
        assert_eq!(v.config.logging.syslog_hostname, "cgn-2");
        let v = validate(
            &cfg(),
            &[],
            &[],
            set("logging.ipfix_collector", "\"127.0.0.1:4739\""),
        )
        .unwrap();
        assert!(v.config.logging.ipfix_collector.is_some());
        let v = validate(&v.config, &[], &[], set("logging.ipfix_collector", "none")).unwrap();
        assert_eq!(v.config.logging.ipfix_collector, None);
        let v = validate(
            &cfg(),
            &[],
            &[],
            set("limits.max_sessions_per_subscriber", "5"),
        )
        .unwrap();
        assert_eq!(v.config.limits.max_sessions_per_subscriber, 5);
    }

    #[test]
    fn set_refusals_name_the_key() {
        for (k, v, want) in [
            ("pool.block_size", "256", "not a live setting"),
            ("timeouts.udp", "10", "timeouts.udp: must be at least 120"),
            ("timeouts.udpp", "300", "unknown field"),
            ("timeouts.udp", "\"x\"", "timeouts.udp"),
            ("limits..x", "1", "not a dotted key"),
        ] {
            let e = err(set(k, v));
            assert!(matches!(e, ApiError::InvalidArgument(_)), "{k}: {e}");
            assert!(e.to_string().contains(want), "{k}: {e}");
        }
    }

    #[test]
    fn alg_changes() {
        let v = validate(
            &cfg(),
            &ftp(),
            &[],
            ConfigChange::Alg {
                name: "FTP".into(),
                enabled: Some(false),
                ports: Some(vec![21, 2121]),
            },
        )
        .unwrap();
        assert_eq!(v.summary, "ftp off, ftp ports = [21, 2121]");
        // The new config carries the change (the daemon publishes it like a SIGHUP).
        assert!(!v.config.alg.ftp.enabled);
        assert_eq!(v.config.alg.ftp.ports, vec![21, 2121]);
        assert_eq!(v.config.alg.tftp, cfg().alg.tftp);
        let alg = |name: &str, ports: Option<Vec<u16>>| ConfigChange::Alg {
            name: name.into(),
            enabled: None,
            ports,
        };
        assert!(matches!(err(alg("sip", None)), ApiError::NotFound(_)));
        assert!(matches!(
            err(alg("ftp", None)),
            ApiError::InvalidArgument(_)
        ));
        for ports in [vec![], vec![0], vec![21, 21], vec![1; 17]] {
            let e = err(alg("ftp", Some(ports.clone())));
            assert!(matches!(e, ApiError::InvalidArgument(_)), "{ports:?}");
        }
    }

    #[test]
    fn h323_change_switches_it_and_sets_its_call_signalling_ports() {
        let algs = [AlgStatus {
            name: "h323".into(),
            enabled: false,
            ports: vec![1720],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        }];
        let change = |ports: Vec<u16>| ConfigChange::Alg {
            name: "H323".into(),
            enabled: Some(true),
            ports: Some(ports),
        };
        let v = validate(&cfg(), &algs, &[], change(vec![1720, 11720])).unwrap();
        assert!(v.config.alg.h323.enabled);
        assert_eq!(v.config.alg.h323.ports, vec![1720, 11720]);
        assert_eq!(
            v.config.alg.h323.ras_ports,
            vec![1719],
            "RAS ports unchanged"
        );
        assert_eq!(v.config.alg.ftp, cfg().alg.ftp);
        // The file's rules apply: not a port FTP already selects.
        let e = validate(&cfg(), &algs, &[], change(vec![21])).unwrap_err();
        assert!(e.to_string().contains("alg.ftp.ports"), "{e}");
    }

    #[test]
    fn rtsp_alg_changes_keep_its_destination_policy() {
        let rtsp = vec![AlgStatus {
            name: "rtsp".into(),
            enabled: false,
            ports: vec![554],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        }];
        let change = |ports: Vec<u16>| ConfigChange::Alg {
            name: "rtsp".into(),
            enabled: Some(true),
            ports: Some(ports),
        };
        let v = validate(&cfg(), &rtsp, &[], change(vec![554, 8554])).unwrap();
        assert!(v.config.alg.rtsp.enabled);
        assert_eq!(v.config.alg.rtsp.ports, vec![554, 8554]);
        assert_eq!(v.config.alg.rtsp.destination, cfg().alg.rtsp.destination);
        // One ALG per TCP port: the file's rule.
        let e = validate(&cfg(), &rtsp, &[], change(vec![21])).unwrap_err();
        assert!(e.to_string().contains("alg.ftp.ports"), "{e}");
    }

    #[test]
    fn pptp_alg_changes_keep_its_gre_timeout() {
        let pptp = vec![AlgStatus {
            name: "pptp".into(),
            enabled: false,
            ports: vec![1723],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        }];
        let change = |ports: Vec<u16>| ConfigChange::Alg {
            name: "pptp".into(),
            enabled: Some(true),
            ports: Some(ports),
        };
        let v = validate(&cfg(), &pptp, &[], change(vec![1723, 11723])).unwrap();
        assert!(v.config.alg.pptp.enabled);
        assert_eq!(v.config.alg.pptp.ports, vec![1723, 11723]);
        assert_eq!(v.config.alg.pptp.gre_timeout_secs, 300);
        let e = validate(&cfg(), &pptp, &[], change(vec![21])).unwrap_err();
        assert!(e.to_string().contains("alg.ftp.ports"), "{e}");
    }

    #[test]
    fn pool_changes() {
        let add = |s: &str| ConfigChange::AddPoolEntry(s.parse().unwrap());
        let v = validate(&cfg(), &[], &[], add("203.0.113.128/25")).unwrap();
        assert_eq!(v.config.pool.address_count(), 132);
        assert!(matches!(
            err(add("203.0.113.1")),
            ApiError::FailedPrecondition(_)
        ));
        // Overlaps the outside on-link prefix: the same check as the file.
        let e = err(add("198.51.100.0/28"));
        assert!(e.to_string().contains("pool.prefixes"), "{e}");

        let v = validate(&cfg(), &[], &[], ConfigChange::Drain(ip("203.0.113.1"))).unwrap();
        assert_eq!(v.config, cfg());
        assert!(matches!(
            err(ConfigChange::Drain(ip("192.0.2.1"))),
            ApiError::InvalidArgument(_)
        ));
        let three = [ip("203.0.113.0"), ip("203.0.113.1"), ip("203.0.113.2")];
        let e = validate(&cfg(), &[], &three, ConfigChange::Drain(ip("203.0.113.3"))).unwrap_err();
        assert!(matches!(e, ApiError::FailedPrecondition(_)), "{e}");
        let e = validate(&cfg(), &[], &three, ConfigChange::Drain(ip("203.0.113.1"))).unwrap_err();
        assert!(matches!(e, ApiError::FailedPrecondition(_)), "{e}");
        validate(
            &cfg(),
            &[],
            &three,
            ConfigChange::Undrain(ip("203.0.113.1")),
        )
        .unwrap();
        assert!(matches!(
            err(ConfigChange::Undrain(ip("203.0.113.1"))),
            ApiError::FailedPrecondition(_)
        ));
    }

    #[test]
    fn sip_alg_changes_keep_its_limits() {
        let sip = vec![AlgStatus {
            name: "sip".into(),
            enabled: false,
            ports: vec![5060],
            sessions: 0,
            messages_rewritten: 0,
            errors: 0,
        }];
        let change = |ports: Vec<u16>| ConfigChange::Alg {
            name: "sip".into(),
            enabled: Some(true),
            ports: Some(ports),
        };
        let v = validate(&cfg(), &sip, &[], change(vec![5060, 5080])).unwrap();
        assert!(v.config.alg.sip.enabled);
        assert_eq!(v.config.alg.sip.ports, vec![5060, 5080]);
        assert_eq!(
            v.config.alg.sip.max_expectations_per_subscriber,
            cfg().alg.sip.max_expectations_per_subscriber
        );
        // SIP ports are UDP and TCP: not TFTP's either.
        let e = validate(&cfg(), &sip, &[], change(vec![69])).unwrap_err();
        assert!(e.to_string().contains("alg.tftp.ports"), "{e}");
    }
}
