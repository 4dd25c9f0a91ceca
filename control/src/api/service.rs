//! The tonic implementation of `cgnat.v1.CgnatService`, and the assembly of the server (the
//! service, health, reflection). Each RPC is: check access, parse the request (`convert`),
//! call the [`Appliance`] on the blocking pool, translate the answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;

use super::model::{BlockFilter, ServingState};
use super::proto::cgnat_service_server::{CgnatService, CgnatServiceServer};
use super::proto::{self as pb, FILE_DESCRIPTOR_SET};
use super::{change, convert, Access, ApiServer, Appliance, AuthPolicy, EventHub, HealthHandle};
use crate::config::PoolMode;

/// The name health reports the cgnat service under.
pub const SERVICE_NAME: &str = "cgnat.v1.CgnatService";

type ServerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct Service<A> {
    appliance: Arc<A>,
    auth: AuthPolicy,
    health: HealthHandle,
    events: EventHub,
}

impl<A: Appliance> Service<A> {
    /// Runs `f` on the appliance in the blocking pool.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&A) -> R + Send + 'static,
    ) -> Result<R, Status> {
        let a = Arc::clone(&self.appliance);
        tokio::task::spawn_blocking(move || f(&a))
            .await
            .map_err(|e| Status::internal(format!("appliance call failed: {e}")))
    }

    #[allow(clippy::result_large_err)] // tonic::Status is what handlers return.
    fn check<T>(&self, req: &Request<T>, access: Access) -> Result<(), Status> {
        // With mTLS, a certificate the handshake verified against api.tls_client_ca.
        let cert = req.peer_certs().is_some_and(|c| !c.is_empty());
        self.auth.check(req.metadata(), access, cert)
    }
}

fn stream_of<T: Send + 'static, P: Send + 'static>(
    rx: super::EntryStream<T>,
    keep: impl Fn(&T) -> bool + Send + 'static,
    limit: Option<u64>,
    conv: fn(T) -> P,
) -> ServerStream<P> {
    let s = ReceiverStream::new(rx).filter(move |x| keep(x)).map(conv);
    let s = s.take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)));
    Box::pin(s.map(Ok))
}

#[tonic::async_trait]
impl<A: Appliance> CgnatService for Service<A> {
    async fn get_status(
        &self,
        req: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        self.check(&req, Access::Read)?;
        let (s, mode) = self
            .call(|a| (a.status(), a.running_config().pool.mode))
            .await?;
        let mode = match mode {
            PoolMode::Dynamic => "dynamic",
            PoolMode::Deterministic => "deterministic",
        };
        Ok(Response::new(convert::status(
            s,
            self.health.get(),
            mode,
            SystemTime::now(),
        )))
    }

    async fn get_stats(
        &self,
        req: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        self.check(&req, Access::Read)?;
        let s = self.call(|a| a.stats()).await?;
        Ok(Response::new(convert::stats(s)))
    }

    type ListBindingsStream = ServerStream<pb::Binding>;

    async fn list_bindings(
        &self,
        req: Request<pb::ListBindingsRequest>,
    ) -> Result<Response<Self::ListBindingsStream>, Status> {
        self.check(&req, Access::Read)?;
        let r = req.into_inner();
        let f = convert::entry_filter(
            &r.subscriber,
            &r.public_address,
            r.public_port,
            r.protocol,
            r.limit,
        )?;
        let rx = self.call(move |a| a.bindings(f)).await??;
        let keep = move |b: &super::model::Binding| f.matches(b.protocol, b.inside, b.public);
        Ok(Response::new(stream_of(
            rx,
            keep,
            f.limit,
            convert::binding,
        )))
    }

    type ListSessionsStream = ServerStream<pb::Session>;

    async fn list_sessions(
        &self,
        req: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<Self::ListSessionsStream>, Status> {
        self.check(&req, Access::Read)?;
        let r = req.into_inner();
        let f = convert::entry_filter(
            &r.subscriber,
            &r.public_address,
            r.public_port,
            r.protocol,
            r.limit,
        )?;
        let rx = self.call(move |a| a.sessions(f)).await??;
        let keep = move |s: &super::model::Session| f.matches(s.protocol, s.inside, s.public);
        Ok(Response::new(stream_of(
            rx,
            keep,
            f.limit,
            convert::session,
        )))
    }

    async fn list_port_blocks(
        &self,
        req: Request<pb::ListPortBlocksRequest>,
    ) -> Result<Response<pb::ListPortBlocksResponse>, Status> {
        self.check(&req, Access::Read)?;
        let r = req.into_inner();
        let sub = convert::opt_addr("subscriber", &r.subscriber)?;
        let public = convert::opt_addr("public_address", &r.public_address)?;
        let filter = match (sub, public) {
            (Some(_), Some(_)) => {
                return Err(Status::invalid_argument(
                    "give subscriber or public_address, not both",
                ))
            }
            (Some(s), None) => BlockFilter::Subscriber(s),
            (None, Some(p)) => BlockFilter::Public(p),
            (None, None) => BlockFilter::All,
        };
        let blocks = self.call(move |a| a.port_blocks(filter)).await??;
        Ok(Response::new(pb::ListPortBlocksResponse {
            blocks: blocks.into_iter().map(convert::block).collect(),
        }))
    }

    async fn lookup(
        &self,
        req: Request<pb::LookupRequest>,
    ) -> Result<Response<pb::LookupResponse>, Status> {
        self.check(&req, Access::Read)?;
        let r = req.into_inner();
        let public = convert::addr("public_address", &r.public_address)?;
        let port = convert::port("port", r.port)?;
        if port == 0 {
            return Err(Status::invalid_argument("port is required (1..=65535)"));
        }
        let at = convert::time("at", r.at)?.unwrap_or_else(SystemTime::now);
        let answer = self.call(move |a| a.lookup(public, port, at)).await??;
        Ok(Response::new(convert::lookup(answer)))
    }

    async fn list_algs(
        &self,
        req: Request<pb::ListAlgsRequest>,
    ) -> Result<Response<pb::ListAlgsResponse>, Status> {
        self.check(&req, Access::Read)?;
        let algs = self.call(|a| a.algs()).await?;
        Ok(Response::new(pb::ListAlgsResponse {
            algs: algs.into_iter().map(convert::alg).collect(),
        }))
    }

    async fn get_config(
        &self,
        req: Request<pb::GetConfigRequest>,
    ) -> Result<Response<pb::GetConfigResponse>, Status> {
        self.check(&req, Access::Read)?;
        let cfg = self.call(|a| a.running_config()).await?;
        let toml = toml::to_string(&cfg)
            .map_err(|e| Status::internal(format!("config does not serialize: {e}")))?;
        Ok(Response::new(pb::GetConfigResponse { toml }))
    }

    async fn clear_subscriber(
        &self,
        req: Request<pb::ClearSubscriberRequest>,
    ) -> Result<Response<pb::ClearSubscriberResponse>, Status> {
        self.check(&req, Access::Write)?;
        let sub = convert::addr("subscriber", &req.into_inner().subscriber)?;
        let n = self.call(move |a| a.clear_subscriber(sub)).await??;
        Ok(Response::new(pb::ClearSubscriberResponse {
            sessions_cleared: n,
        }))
    }

    async fn change_config(
        &self,
        req: Request<pb::ChangeConfigRequest>,
    ) -> Result<Response<pb::ChangeConfigResponse>, Status> {
        self.check(&req, Access::Write)?;
        let c = convert::change(req.into_inner())?;
        let summary = self
            .call(move |a| {
                let v = change::validate(&a.running_config(), &a.algs(), &a.status().draining, c)?;
                let summary = v.summary.clone();
                a.apply_change(v)?;
                Ok::<_, super::ApiError>(summary)
            })
            .await??;
        self.events
            .publish(super::model::ApiEventKind::ConfigChanged {
                summary: summary.clone(),
            });
        Ok(Response::new(pb::ChangeConfigResponse { summary }))
    }

    type WatchEventsStream = ServerStream<pb::Event>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.check(&req, Access::Read)?;
        let kinds = req.into_inner().kinds;
        if let Some(k) = kinds.iter().find(|&&k| pb::EventKind::try_from(k).is_err()) {
            return Err(Status::invalid_argument(format!(
                "kinds: unknown event kind {k}"
            )));
        }
        let s = BroadcastStream::new(self.events.subscribe()).filter_map(move |r| {
            let ev = match r {
                Ok(ev) => convert::event(ev),
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                    pb::Event {
                        at: Some(SystemTime::now().into()),
                        kind: pb::EventKind::Lagged as i32,
                        lost: n,
                        ..Default::default()
                    }
                }
            };
            (kinds.is_empty()
                || kinds.contains(&ev.kind)
                || ev.kind == pb::EventKind::Lagged as i32)
                .then_some(Ok(ev))
        });
        Ok(Response::new(Box::pin(s)))
    }
}

fn health_status(s: ServingState) -> ServingStatus {
    match s {
        ServingState::Serving => ServingStatus::Serving,
        ServingState::Starting | ServingState::Draining => ServingStatus::NotServing,
    }
}

/// Assembles and runs the server. Health follows the [`HealthHandle`]: the overall status
/// (service `""`) and `cgnat.v1.CgnatService` are both SERVING only in state `Serving`.
pub(super) async fn serve<A: Appliance>(
    server: ApiServer<A>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), super::ServeError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let mut state = server.health.watch();
    let initial = health_status(*state.borrow_and_update());
    for name in ["", SERVICE_NAME] {
        reporter.set_service_status(name, initial).await;
    }
    let follow = tokio::spawn(async move {
        while state.changed().await.is_ok() {
            let s = health_status(*state.borrow_and_update());
            for name in ["", SERVICE_NAME] {
                reporter.set_service_status(name, s).await;
            }
        }
    });

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let bad = |e: tonic_reflection::server::Error| super::ServeError::Reflection(e.to_string());
    let v1 = reflection().build_v1().map_err(bad)?;
    let v1alpha = reflection().build_v1alpha().map_err(bad)?;

    let max = server.max_request_bytes;
    let service = Service {
        appliance: server.appliance,
        auth: server.auth,
        health: server.health,
        events: server.events,
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = server.tls {
        builder = builder.tls_config(tls.config)?;
    }
    let result = builder
        .add_service(health_service.max_decoding_message_size(max))
        .add_service(v1.max_decoding_message_size(max))
        .add_service(v1alpha.max_decoding_message_size(max))
        .add_service(CgnatServiceServer::new(service).max_decoding_message_size(max))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await;
    follow.abort();
    Ok(result?)
}
