//! `cgnatctl`: the operator's command line over the cgnat management API (`cgnat.v1`, gRPC).
//! Human-readable tables by default, `--json` for scripts. Reference: `docs/api.md`.
//!
//! Exit codes (stable, for scripts):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | other error (server-side failure, unexpected answer) |
//! | 2 | usage error (bad command line) |
//! | 3 | cannot reach the server (connection refused, timeout, UNAVAILABLE) |
//! | 4 | not found (NOT_FOUND: no holder, no such subscriber or ALG) |
//! | 5 | refused as invalid (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE) |
//! | 6 | authentication (UNAUTHENTICATED, PERMISSION_DENIED) |
#![forbid(unsafe_code)]

mod output;
mod time;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use control::api::proto as pb;
use control::api::proto::cgnat_service_client::CgnatServiceClient;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Exit code: other error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: usage error (clap's own code).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the server cannot be reached.
pub const EXIT_CONNECT: u8 = 3;
/// Exit code: not found.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: refused as invalid.
pub const EXIT_INVALID: u8 = 5;
/// Exit code: authentication or permission.
pub const EXIT_AUTH: u8 = 6;

#[derive(Debug, Parser)]
#[command(
    name = "cgnatctl",
    version,
    about = "Operate a cgnat appliance over its gRPC API"
)]
struct Cli {
    /// API address (`api.listen` of the appliance).
    #[arg(
        long,
        short = 's',
        global = true,
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// File holding the bearer token (needed for mutating commands). The environment
    /// variable CGNAT_TOKEN is used when this is not given.
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// PEM CA certificate to verify the server with (TLS; implies `https://`).
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with `--key`; `api.tls_client_ca` on the server).
    #[arg(long = "cert", global = true, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// PEM private key of `--cert`.
    #[arg(long = "key", global = true, requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Name the server's certificate must carry (default: the host of `--server`).
    #[arg(long, global = true)]
    tls_name: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for the server to connect and answer (not for `events`).
    #[arg(long, global = true, default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Version, uptime, serving state, workers, ports.
    Status,
    /// Counters: workers, ports, drops, ALGs, protocols, pools, log sinks.
    Stats {
        /// Also print zero drop counters and every per-worker counter.
        #[arg(long)]
        all: bool,
    },
    /// List sessions (or bindings with --bindings).
    Sessions {
        /// List bindings (endpoint-independent mappings) instead of sessions.
        #[arg(long)]
        bindings: bool,
        /// Only this subscriber (inside address).
        #[arg(long)]
        subscriber: Option<String>,
        /// Only this public address.
        #[arg(long)]
        public: Option<String>,
        /// Only this public port.
        #[arg(long)]
        port: Option<u32>,
        /// Only this protocol: tcp, udp or icmp.
        #[arg(long)]
        protocol: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Port blocks held now.
    Blocks {
        /// Only this subscriber's.
        #[arg(long, conflicts_with = "public")]
        subscriber: Option<String>,
        /// Only those on this public address.
        #[arg(long)]
        public: Option<String>,
    },
    /// Abuse lookup: who held ADDR:PORT (now, or --at TIME).
    Lookup {
        /// Public address and port, e.g. 203.0.113.7:40123.
        target: String,
        /// RFC 3339 time (2026-11-21T10:42:07Z, offsets allowed) or Unix seconds.
        #[arg(long)]
        at: Option<String>,
    },
    /// ALGs: list, or change one.
    Alg {
        #[command(subcommand)]
        cmd: Option<AlgCmd>,
    },
    /// Running configuration.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Public address pool.
    Pool {
        #[command(subcommand)]
        cmd: PoolCmd,
    },
    /// Delete every session and binding of a subscriber.
    Clear {
        /// Subscriber (inside address).
        subscriber: String,
    },
    /// Stream events (block allocations, exhaustion, config changes, health).
    Events {
        /// Only these kinds: block-allocated, block-released, ports-exhausted,
        /// pool-exhausted, config-changed, health-changed (repeatable).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum AlgCmd {
    /// List the ALGs (the default).
    List,
    /// Switch an ALG on or off and/or set its ports.
    Set {
        /// ALG name (ftp, sip, ...).
        name: String,
        /// Switch it on.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Switch it off.
        #[arg(long)]
        off: bool,
        /// Comma-separated server ports, e.g. 21,2121.
        #[arg(long, value_delimiter = ',')]
        ports: Vec<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Print the running configuration (TOML).
    Get,
    /// Change a live key: timeouts.*, limits.*, logging.*, nat.tcp_mss_clamp. VALUE is TOML
    /// (a bare word is a string); `none` removes an optional key.
    Set {
        /// Dotted key, e.g. timeouts.udp.
        key: String,
        /// New value, e.g. 600.
        value: String,
    },
}

#[derive(Debug, Subcommand)]
enum PoolCmd {
    /// Stop giving new port blocks on a public address (existing ones stay until released).
    Drain {
        /// Public address.
        address: String,
        /// Undo a drain.
        #[arg(long)]
        undo: bool,
    },
    /// Add a pool entry (prefix, range or address).
    Add {
        /// E.g. 203.0.113.0/24.
        entry: String,
    },
}

/// A failure and its exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl From<Status> for Failure {
    fn from(s: Status) -> Self {
        let code = match s.code() {
            Code::NotFound => EXIT_NOT_FOUND,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => EXIT_INVALID,
            Code::Unauthenticated | Code::PermissionDenied => EXIT_AUTH,
            Code::Unavailable | Code::DeadlineExceeded => EXIT_CONNECT,
            _ => EXIT_ERROR,
        };
        let name = format!("{:?}", s.code());
        Self {
            code,
            message: format!("{name}: {}", s.message()),
        }
    }
}

type Result<T = ()> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cgnatctl: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("cgnatctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

struct Ctx {
    client: CgnatServiceClient<Channel>,
    token: Option<String>,
    json: bool,
}

impl Ctx {
    /// A request carrying the token, if there is one.
    fn req<T>(&self, msg: T) -> Result<Request<T>> {
        let mut r = Request::new(msg);
        if let Some(t) = &self.token {
            let v = format!("Bearer {t}").parse().map_err(|_| {
                Failure::usage("the token contains characters not allowed in a header")
            })?;
            r.metadata_mut().insert("authorization", v);
        }
        Ok(r)
    }
}

fn read_token(cli: &Cli) -> Result<Option<String>> {
    if let Some(p) = &cli.token_file {
        let t = std::fs::read_to_string(p).map_err(|e| Failure {
            code: EXIT_AUTH,
            message: format!("cannot read token file {}: {e}", p.display()),
        })?;
        return Ok(Some(t.trim().to_owned()));
    }
    Ok(std::env::var("CGNAT_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned()))
}

fn read_pem(what: &str, p: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| Failure::usage(format!("cannot read {what} {}: {e}", p.display())))
}

async fn connect(cli: &Cli) -> Result<CgnatServiceClient<Channel>> {
    let tls = cli.ca.is_some() || cli.client_cert.is_some();
    let server = if cli.server.contains("://") {
        cli.server.clone()
    } else if tls {
        format!("https://{}", cli.server)
    } else {
        format!("http://{}", cli.server)
    };
    let mut endpoint = Channel::from_shared(server.clone())
        .map_err(|e| Failure::usage(format!("--server {server:?}: {e}")))?;
    if tls || server.starts_with("https://") {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let mut c = ClientTlsConfig::new();
        if let Some(ca) = &cli.ca {
            c = c.ca_certificate(Certificate::from_pem(read_pem("--ca", ca)?));
        }
        if let (Some(cert), Some(key)) = (&cli.client_cert, &cli.client_key) {
            c = c.identity(Identity::from_pem(
                read_pem("--cert", cert)?,
                read_pem("--key", key)?,
            ));
        }
        if let Some(n) = &cli.tls_name {
            c = c.domain_name(n.clone());
        }
        endpoint = endpoint
            .tls_config(c)
            .map_err(|e| Failure::usage(format!("TLS settings: {e}")))?;
    }
    let t = Duration::from_secs(cli.timeout.max(1));
    let channel = endpoint
        .connect_timeout(t)
        .connect()
        .await
        .map_err(|e| Failure {
            code: EXIT_CONNECT,
            message: format!("cannot connect to {server}: {e}"),
        })?;
    Ok(CgnatServiceClient::new(channel))
}

async fn run(cli: Cli) -> Result {
    let token = read_token(&cli)?;
    let client = connect(&cli).await?;
    let mut ctx = Ctx {
        client,
        token,
        json: cli.json,
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let streaming = matches!(cli.cmd, Cmd::Events { .. });
    let work = dispatch(&mut ctx, cli.cmd);
    if streaming {
        return work.await;
    }
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Failure {
            code: EXIT_CONNECT,
            message: format!("no answer within {} s", timeout.as_secs()),
        })?
}

fn opt(s: Option<String>) -> String {
    s.unwrap_or_default()
}

fn parse_protocol(p: Option<&str>) -> Result<i32> {
    Ok(match p.map(str::to_ascii_lowercase).as_deref() {
        None => pb::Protocol::Unspecified,
        Some("tcp") => pb::Protocol::Tcp,
        Some("udp") => pb::Protocol::Udp,
        Some("icmp") => pb::Protocol::Icmp,
        Some(other) => {
            return Err(Failure::usage(format!(
                "--protocol {other:?}: expected tcp, udp or icmp"
            )))
        }
    } as i32)
}

fn parse_kind(k: &str) -> Result<i32> {
    Ok(match k {
        "block-allocated" => pb::EventKind::BlockAllocated,
        "block-released" => pb::EventKind::BlockReleased,
        "ports-exhausted" => pb::EventKind::PortsExhausted,
        "pool-exhausted" => pb::EventKind::PoolExhausted,
        "config-changed" => pb::EventKind::ConfigChanged,
        "health-changed" => pb::EventKind::HealthChanged,
        other => {
            return Err(Failure::usage(format!(
                "--kind {other:?}: unknown event kind"
            )))
        }
    } as i32)
}

async fn change(ctx: &mut Ctx, c: pb::change_config_request::Change) -> Result {
    let req = ctx.req(pb::ChangeConfigRequest { change: Some(c) })?;
    let r = ctx.client.change_config(req).await?.into_inner();
    output::changed(ctx.json, &r.summary);
    Ok(())
}

async fn dispatch(ctx: &mut Ctx, cmd: Cmd) -> Result {
    use pb::change_config_request::Change;
    match cmd {
        Cmd::Status => {
            let req = ctx.req(pb::GetStatusRequest {})?;
            let s = ctx.client.get_status(req).await?.into_inner();
            output::status(ctx.json, &s);
        }
        Cmd::Stats { all } => {
            let req = ctx.req(pb::GetStatsRequest {})?;
            let s = ctx.client.get_stats(req).await?.into_inner();
            output::stats(ctx.json, &s, all);
        }
        Cmd::Sessions {
            bindings,
            subscriber,
            public,
            port,
            protocol,
            limit,
        } => {
            let protocol = parse_protocol(protocol.as_deref())?;
            let (subscriber, public_address) = (opt(subscriber), opt(public));
            let (public_port, limit) = (port.unwrap_or(0), limit.unwrap_or(0));
            if bindings {
                let req = ctx.req(pb::ListBindingsRequest {
                    subscriber,
                    public_address,
                    public_port,
                    protocol,
                    limit,
                })?;
                let mut s = ctx.client.list_bindings(req).await?.into_inner();
                let mut v = Vec::new();
                while let Some(b) = s.next().await {
                    v.push(b?);
                }
                output::bindings(ctx.json, &v);
            } else {
                let req = ctx.req(pb::ListSessionsRequest {
                    subscriber,
                    public_address,
                    public_port,
                    protocol,
                    limit,
                })?;
                let mut s = ctx.client.list_sessions(req).await?.into_inner();
                let mut v = Vec::new();
                while let Some(x) = s.next().await {
                    v.push(x?);
                }
                output::sessions(ctx.json, &v);
            }
        }
        Cmd::Blocks { subscriber, public } => {
            let req = ctx.req(pb::ListPortBlocksRequest {
                subscriber: opt(subscriber),
                public_address: opt(public),
            })?;
            let r = ctx.client.list_port_blocks(req).await?.into_inner();
            output::blocks(ctx.json, &r.blocks);
        }
        Cmd::Lookup { target, at } => {
            let (addr, port) = target
                .rsplit_once(':')
                .ok_or_else(|| Failure::usage(format!("{target:?}: expected ADDR:PORT")))?;
            let port: u32 = port
                .parse()
                .map_err(|_| Failure::usage(format!("{target:?}: {port:?} is not a port")))?;
            let at = at
                .as_deref()
                .map(time::parse)
                .transpose()
                .map_err(|e| Failure::usage(format!("--at: {e}")))?;
            let req = ctx.req(pb::LookupRequest {
                public_address: addr.to_owned(),
                port,
                at: at.map(Into::into),
            })?;
            let r = ctx.client.lookup(req).await?.into_inner();
            output::lookup(ctx.json, &r);
        }
        Cmd::Alg { cmd } => match cmd.unwrap_or(AlgCmd::List) {
            AlgCmd::List => {
                let req = ctx.req(pb::ListAlgsRequest {})?;
                let r = ctx.client.list_algs(req).await?.into_inner();
                output::algs(ctx.json, &r.algs);
            }
            AlgCmd::Set {
                name,
                on,
                off,
                ports,
            } => {
                let enabled = match (on, off) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                };
                change(
                    ctx,
                    Change::Alg(pb::SetAlg {
                        name,
                        enabled,
                        ports,
                    }),
                )
                .await?;
            }
        },
        Cmd::Config { cmd } => match cmd {
            ConfigCmd::Get => {
                let req = ctx.req(pb::GetConfigRequest {})?;
                let r = ctx.client.get_config(req).await?.into_inner();
                output::config(ctx.json, &r.toml);
            }
            ConfigCmd::Set { key, value } => {
                change(ctx, Change::Set(pb::SetValue { key, value })).await?;
            }
        },
        Cmd::Pool { cmd } => match cmd {
            PoolCmd::Drain { address, undo } => {
                let c = if undo {
                    Change::UndrainAddress(address)
                } else {
                    Change::DrainAddress(address)
                };
                change(ctx, c).await?;
            }
            PoolCmd::Add { entry } => change(ctx, Change::AddPoolPrefix(entry)).await?,
        },
        Cmd::Clear { subscriber } => {
            let req = ctx.req(pb::ClearSubscriberRequest { subscriber })?;
            let r = ctx.client.clear_subscriber(req).await?.into_inner();
            output::cleared(ctx.json, r.sessions_cleared);
        }
        Cmd::Events { kinds, count } => {
            let kinds = kinds
                .iter()
                .map(|k| parse_kind(k))
                .collect::<Result<Vec<_>>>()?;
            let req = ctx.req(pb::WatchEventsRequest { kinds })?;
            let mut s = ctx.client.watch_events(req).await?.into_inner();
            let mut n = 0u64;
            while count != Some(n) {
                match s.next().await {
                    Some(ev) => output::event(ctx.json, &ev?),
                    None => break,
                }
                n += 1;
            }
        }
    }
    Ok(())
}
