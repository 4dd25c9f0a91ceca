//! `cgnatd`: the cgnat daemon. Thin wiring only: CLI, config, EAL, ports, workers on lcores,
//! signals and shutdown; behaviour lives in `dataplane` and `control`.
#![forbid(unsafe_code)]

mod api_thread;
mod appliance;
mod bench;
mod clock;
mod control_thread;
mod convert;
mod daemon;
mod flow_steer;
mod pkt;
mod poll_loop;
mod reload;
mod sinks;
mod worker_link;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Carrier-grade NAT44 on DPDK.
#[derive(Debug, Parser)]
#[command(name = "cgnatd", version, about)]
struct Cli {
    /// Run with this configuration file (TOML).
    #[arg(long, value_name = "FILE", conflicts_with = "check_config")]
    config: Option<PathBuf>,
    /// Validate this configuration file and exit (0: valid, 2: invalid). Starts nothing.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
    /// Run the built-in traffic generator with this profile (pktgen-profiles/builtin/*.toml)
    /// against a worker on DPDK rings, print the results as JSON and exit.
    #[arg(long, value_name = "PROFILE", conflicts_with_all = ["config", "check_config"])]
    bench: Option<PathBuf>,
    /// With --bench: forward without translating (the I/O ceiling).
    #[arg(long, requires = "bench")]
    no_translate: bool,
    /// With --bench: a TOML file with a `[logging]` table; run the control thread and those
    /// sinks on the worker's events (the back-pressure experiment, docs/robustness.md).
    #[arg(long, value_name = "FILE", requires = "bench")]
    log_config: Option<PathBuf>,
    /// With --bench: also write the JSON result to this file.
    #[arg(long, value_name = "FILE", requires = "bench")]
    json: Option<PathBuf>,
    /// Testing only: run the control plane's wall clock this many seconds off the system
    /// clock (negative: in the past), so abuse lookups of old allocations can be tested.
    #[arg(long, value_name = "SECS", hide = true, allow_hyphen_values = true)]
    clock_offset_secs: Option<i64>,
}

/// Exit code for an invalid configuration.
const EXIT_BAD_CONFIG: u8 = 2;

/// The `[logging]` table of `path` (`--bench --log-config`).
fn load_logging(path: &std::path::Path) -> Result<control::LoggingConfig, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Only {
        logging: control::LoggingConfig,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str::<Only>(&text)
        .map(|o| o.logging)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CGNAT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Some(profile) = cli.bench {
        let logging = match cli.log_config.as_deref().map(load_logging).transpose() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cgnatd: {e}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        };
        let opts = bench::BenchOpts {
            translate: !cli.no_translate,
            json: cli.json,
            logging,
        };
        return match bench::run(&profile, &opts) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e @ bench::BenchError::Profile(_)) => {
                eprintln!("cgnatd: {}: {e}", profile.display());
                ExitCode::from(EXIT_BAD_CONFIG)
            }
            Err(e) => {
                eprintln!("cgnatd: bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(path) = cli.check_config {
        return match daemon::load(&path) {
            Ok(_) => {
                println!("{}: configuration is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cgnatd: {}: {e}", path.display());
                ExitCode::from(EXIT_BAD_CONFIG)
            }
        };
    }
    let Some(path) = cli.config else {
        eprintln!("cgnatd: one of --config FILE or --check-config FILE is required (see --help)");
        return ExitCode::from(EXIT_BAD_CONFIG);
    };
    let cfg = match daemon::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cgnatd: {}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let opts = daemon::RunOpts {
        clock: clock::Clock::with_offset_secs(cli.clock_offset_secs.unwrap_or(0)),
    };
    match daemon::run(cfg, &path, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cgnatd: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
