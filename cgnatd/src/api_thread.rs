//! The management thread: a small tokio runtime serving the gRPC API (`control::api`) and
//! Prometheus `/metrics` (`control::metrics`) over the daemon's [`Appliance`].
//!
//! The listening sockets are bound before anything starts, so an address in use is a start-up
//! error naming the key. Appliance calls run on tokio's blocking pool; the runtime has two
//! worker threads, scheduled by the OS on the main lcore's CPU set, never on a worker lcore's
//! poll loop. [`ApiThread::stop`] ends both servers and joins the thread.

use crate::daemon::DaemonError;
use control::api::{ApiServer, Appliance, AuthPolicy, EventHub, HealthHandle, TlsSettings};
use control::ApiConfig;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use tracing::{info, warn};

/// The running management thread.
#[derive(Debug)]
pub struct ApiThread {
    stop: tokio::sync::watch::Sender<bool>,
    join: Option<JoinHandle<()>>,
}

fn bind(key: &'static str, addr: std::net::SocketAddr) -> Result<TcpListener, DaemonError> {
    let l = TcpListener::bind(addr).map_err(|e| DaemonError::Config {
        key,
        problem: format!("cannot listen on {addr}: {e}"),
    })?;
    l.set_nonblocking(true).map_err(|e| DaemonError::Config {
        key,
        problem: e.to_string(),
    })?;
    Ok(l)
}

impl ApiThread {
    /// Binds the configured listeners and starts serving `appliance`. Returns the thread and
    /// the handles the daemon drives (health, events); with both servers disabled the handles
    /// still work and nothing listens.
    pub fn start<A: Appliance>(
        appliance: Arc<A>,
        cfg: &ApiConfig,
    ) -> Result<(Self, HealthHandle, EventHub), DaemonError> {
        let auth = AuthPolicy::from_config(cfg).map_err(|e| DaemonError::Config {
            key: "api.token_file",
            problem: e.to_string(),
        })?;
        let tls = TlsSettings::from_config(cfg).map_err(|e| DaemonError::Config {
            key: "api.tls_cert",
            problem: e.to_string(),
        })?;
        if let Some(t) = &tls {
            info!(
                "api: gRPC over TLS{}",
                if t.client_certs {
                    ", client certificates signed by api.tls_client_ca authenticate"
                } else {
                    ""
                }
            );
        }
        let mtls = tls.as_ref().is_some_and(|t| t.client_certs);
        let server = ApiServer::new(Arc::clone(&appliance), auth)
            .with_tls(tls)
            .with_max_request_bytes(cfg.max_request_bytes);
        let (health, events) = (server.health(), server.events());
        let grpc = cfg
            .enabled
            .then(|| bind("api.listen", cfg.listen))
            .transpose()?;
        let metrics = cfg
            .metrics_enabled
            .then(|| bind("api.metrics_listen", cfg.metrics_listen))
            .transpose()?;
        for (what, l) in [("api: gRPC", &grpc), ("metrics: HTTP /metrics", &metrics)] {
            if let Some(a) = l.as_ref().and_then(|l| l.local_addr().ok()) {
                info!("{what} listening on {a}");
            }
        }
        if grpc.is_some() && cfg.token_file.is_none() && !mtls {
            warn!("api: no api.token_file: mutating RPCs are refused (PERMISSION_DENIED)");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cgnat-api")
            .enable_all()
            .build()
            .map_err(DaemonError::Signal)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let health_m = health.clone();
        let stop_rx = stopped.clone();
        let join = std::thread::Builder::new()
            .name("cgnat-api-main".into())
            .spawn(move || {
                rt.block_on(async move {
                    let until_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                        let _ = rx.wait_for(|s| *s).await;
                    };
                    let g = async {
                        if let Some(l) = grpc {
                            match tokio::net::TcpListener::from_std(l) {
                                Ok(l) => {
                                    if let Err(e) =
                                        server.serve(l, until_stop(stopped.clone())).await
                                    {
                                        warn!("api: gRPC server stopped: {e}");
                                    }
                                }
                                Err(e) => warn!("api: gRPC listener: {e}"),
                            }
                        }
                    };
                    let m = async {
                        if let Some(l) = metrics {
                            match tokio::net::TcpListener::from_std(l) {
                                Ok(l) => {
                                    let r = control::metrics::serve(
                                        l,
                                        appliance,
                                        health_m,
                                        until_stop(stopped.clone()),
                                    )
                                    .await;
                                    if let Err(e) = r {
                                        warn!("metrics: server stopped: {e}");
                                    }
                                }
                                Err(e) => warn!("metrics: listener: {e}"),
                            }
                        }
                    };
                    // After a stop, open streams (WatchEvents) get a short grace period.
                    let grace = async {
                        until_stop(stop_rx).await;
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    };
                    tokio::select! {
                        _ = async { tokio::join!(g, m) } => {}
                        () = grace => {}
                    }
                });
                rt.shutdown_timeout(std::time::Duration::from_secs(1));
            })
            .map_err(DaemonError::Signal)?;
        Ok((
            Self {
                stop,
                join: Some(join),
            },
            health,
            events,
        ))
    }

    /// Stops both servers and joins the thread.
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}
