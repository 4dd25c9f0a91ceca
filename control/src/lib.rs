//! The control plane of the cgnat appliance: everything that is not in a worker's packet path.
//!
//! So far it owns the configuration ([`config`]): the TOML file format, its defaults and its
//! validation. The address-pool registry, logging, metrics and the management API will live
//! here too; none of them ever touches a worker's tables directly.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod logging;
pub mod metrics;
pub mod registry;
pub mod state;

pub use config::PptpAlgConfig;
pub use config::SipAlgConfig;
pub use config::{
    AddrParseError, AlgSectionConfig, AlgSwitch, ApiConfig, ArpConfig, Config, ConfigError,
    DataplaneConfig, EalConfig, Filtering, FragmentsConfig, H323Switch, InsideConfig, Ipv4Prefix,
    L4Proto, LimitsConfig, LoggingConfig, NatConfig, OutsideConfig, PoolConfig, PoolEntry,
    PoolMode, PortTimeout, SteeringMode, TimeoutsConfig,
};
pub use config::{RtspAlgConfig, RtspDestination};
