//! Built-in generator profiles (`pktgen-profiles/builtin/*.toml`), validated like the main
//! config: unknown keys rejected, one clear message naming the key.

use serde::Deserialize;
use std::path::Path;

/// What the generator measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Established flows cycled pseudo-randomly: packets per second.
    Throughput,
    /// Every packet a new flow: bindings created per second.
    Cps,
    /// RFC 9693 two-phase bidirectional: outbound, then the server's reply to the learned
    /// public endpoint.
    Rfc9693,
}

/// A profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Free text.
    pub name: String,
    /// Scenario.
    pub scenario: Scenario,
    /// Frame sizes (Ethernet, no FCS).
    pub frame_sizes: Vec<u16>,
    /// Weights of the frame sizes.
    pub weights: Vec<u32>,
    /// Subscribers (from 100.64.0.2 up).
    pub subscribers: u32,
    /// Source ports per subscriber (from 10000 up).
    pub ports_per_subscriber: u32,
    /// Servers (from 198.51.100.2 up), destination port 9.
    pub servers: u32,
    /// RFC 9693 preliminary phase (state creation), seconds at most.
    pub preliminary_secs: u32,
    /// Measured phase, seconds.
    pub duration_secs: u32,
    /// Also send the server's reply to each translated packet.
    pub bidirectional: bool,
}

/// A profile that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Unreadable file.
    #[error("cannot read {path}: {err}")]
    Io {
        /// Path.
        path: String,
        /// Error.
        err: std::io::Error,
    },
    /// Bad TOML or unknown/missing key.
    #[error("{0}")]
    Syntax(String),
    /// A value out of range.
    #[error("{key}: {problem}")]
    Invalid {
        /// Key.
        key: &'static str,
        /// Problem.
        problem: String,
    },
}

impl Profile {
    /// Reads and validates a profile.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|err| ProfileError::Io {
            path: path.display().to_string(),
            err,
        })?;
        let p: Profile = toml::from_str(&text)
            .map_err(|e| ProfileError::Syntax(e.to_string().replace('\n', " ")))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), ProfileError> {
        let bad = |key, problem: String| Err(ProfileError::Invalid { key, problem });
        if self.frame_sizes.is_empty() || self.frame_sizes.len() != self.weights.len() {
            return bad("weights", "one weight per frame size is needed".into());
        }
        if let Some(s) = self
            .frame_sizes
            .iter()
            .find(|&&s| !(60..=1514).contains(&s))
        {
            return bad("frame_sizes", format!("{s} is outside 60..=1514"));
        }
        if self.weights.iter().all(|&w| w == 0) || self.weights.iter().any(|&w| w > 1000) {
            return bad("weights", "weights must be 0..=1000 and not all 0".into());
        }
        if !(1..=1_000_000).contains(&self.subscribers) {
            return bad(
                "subscribers",
                format!("must be 1..=1000000 (got {})", self.subscribers),
            );
        }
        if !(1..=16_384).contains(&self.ports_per_subscriber) {
            return bad(
                "ports_per_subscriber",
                format!("must be 1..=16384 (got {})", self.ports_per_subscriber),
            );
        }
        if u64::from(self.subscribers) * u64::from(self.ports_per_subscriber) > 64_000_000 {
            return bad(
                "ports_per_subscriber",
                "subscribers x ports_per_subscriber must be at most 64 M".into(),
            );
        }
        if !(1..=250).contains(&self.servers) {
            return bad("servers", format!("must be 1..=250 (got {})", self.servers));
        }
        if !(1..=3600).contains(&self.duration_secs) || self.preliminary_secs > 3600 {
            return bad(
                "duration_secs",
                "must be 1..=3600 (preliminary_secs 0..=3600)".into(),
            );
        }
        Ok(())
    }

    /// Number of distinct flows.
    pub fn flows(&self) -> u64 {
        u64::from(self.subscribers) * u64::from(self.ports_per_subscriber)
    }
}
