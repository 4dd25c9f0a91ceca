//! The management API: the `cgnat.v1.CgnatService` gRPC service (tonic, `proto/cgnat/v1/`),
//! with the standard `grpc.health.v1.Health` and server reflection (`grpc.reflection.v1` and
//! `v1alpha`), so grpcurl and grpcui work without the .proto files. Reference: `docs/api.md`.
//!
//! The server is generic over [`Appliance`], the one thing the daemon implements: plain Rust
//! snapshots and calls ([`model`]), no protobuf. Everything else is here and shared by every
//! implementation: request parsing and protobuf translation (`convert`), access control
//! ([`auth`]), validation of live changes ([`change`]), the health state and event stream
//! ([`health`]), and the abuse-lookup and block-listing helpers the daemon answers with
//! ([`lookup`]).
//!
//! ```text
//! let server = ApiServer::new(appliance, AuthPolicy::from_config(&cfg.api)?);
//! let health = server.health();   // daemon: health.set(ServingState::Serving) when ready
//! let events = server.events();   // daemon: events.publish(ApiEventKind::BlockAllocated{..})
//! server.serve(TcpListener::bind(cfg.api.listen).await?, shutdown).await?;
//! ```

pub mod auth;
pub mod change;
pub mod convert;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod health;
pub mod lookup;
pub mod model;
pub mod proto;
mod service;
pub mod tls;

use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;

pub use auth::{Access, AuthError, AuthPolicy};
pub use error::ApiError;
pub use health::{EventHub, HealthHandle};
use model::{
    AlgStatus, Binding, BlockFilter, EntryFilter, LookupAnswer, PortBlock, Session, StatsSnapshot,
    StatusSnapshot, ValidatedChange,
};
pub use tls::{TlsError, TlsSettings};

/// Entries of `ListBindings` / `ListSessions`, produced as they are gathered (e.g. worker by
/// worker). A bounded channel: the producer waits when the client reads slowly, and stops when
/// the receiver is dropped (client gone).
pub type EntryStream<T> = tokio::sync::mpsc::Receiver<T>;

/// What the appliance (the daemon) provides to the API. Every method may block (they are
/// called from a blocking-task pool, never on the async executor); none is called with a lock
/// of the server held.
pub trait Appliance: Send + Sync + 'static {
    /// Version, start time, workers, ports, drained addresses. (The serving state is the
    /// [`HealthHandle`]'s.)
    fn status(&self) -> StatusSnapshot;

    /// Every counter; also what `/metrics` renders.
    fn stats(&self) -> StatsSnapshot;

    /// The ALGs, their switches and ports (names are what `ChangeConfig` accepts).
    fn algs(&self) -> Vec<AlgStatus>;

    /// Bindings matching `filter` (the server applies the filter and limit again).
    fn bindings(&self, filter: EntryFilter) -> Result<EntryStream<Binding>, ApiError>;

    /// Sessions matching `filter` (the server applies the filter and limit again).
    fn sessions(&self, filter: EntryFilter) -> Result<EntryStream<Session>, ApiError>;

    /// Port blocks held now. [`lookup::port_blocks`] answers it from the registry and config.
    fn port_blocks(&self, filter: BlockFilter) -> Result<Vec<PortBlock>, ApiError>;

    /// Who held `public:port` at `at`. [`lookup::lookup`] answers it from the registry and
    /// config.
    fn lookup(&self, public: Ipv4Addr, port: u16, at: SystemTime)
        -> Result<LookupAnswer, ApiError>;

    /// Deletes every session and binding of `subscriber`; returns how many sessions went.
    /// NOT_FOUND when it has none.
    fn clear_subscriber(&self, subscriber: Ipv4Addr) -> Result<u64, ApiError>;

    /// The configuration in force (live changes included).
    fn running_config(&self) -> crate::Config;

    /// Applies a change the server has validated against [`running_config`](Self::running_config):
    /// from now on `running_config()` must return `change.config`. May still refuse
    /// (FAILED_PRECONDITION) and must then change nothing.
    fn apply_change(&self, change: ValidatedChange) -> Result<(), ApiError>;
}

/// The gRPC server: the cgnat service, health and reflection, over one [`Appliance`].
#[derive(Debug)]
pub struct ApiServer<A: Appliance> {
    appliance: Arc<A>,
    auth: AuthPolicy,
    health: HealthHandle,
    events: EventHub,
    tls: Option<TlsSettings>,
    max_request_bytes: usize,
}

impl<A: Appliance> ApiServer<A> {
    /// A server for `appliance` with access policy `auth`, in state `Starting`.
    pub fn new(appliance: Arc<A>, auth: AuthPolicy) -> Self {
        let events = EventHub::default();
        Self {
            appliance,
            auth,
            health: HealthHandle::new(events.clone()),
            events,
            tls: None,
            max_request_bytes: crate::config::ApiConfig::DEFAULT_MAX_REQUEST_BYTES,
        }
    }

    /// Serves over TLS (and verifies client certificates if `tls` says so).
    pub fn with_tls(mut self, tls: Option<TlsSettings>) -> Self {
        self.tls = tls;
        self
    }

    /// Refuses request messages larger than `bytes` (RESOURCE_EXHAUSTED... see `docs/api.md`).
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// The handle that sets the serving state (health).
    pub fn health(&self) -> HealthHandle {
        self.health.clone()
    }

    /// The hub the daemon publishes events on.
    pub fn events(&self) -> EventHub {
        self.events.clone()
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        service::serve(self, listener, shutdown).await
    }
}

/// Why [`ApiServer::serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The embedded descriptor set was refused by reflection (a build problem).
    #[error("reflection: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}
