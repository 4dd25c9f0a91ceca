//! TLS and mutual TLS for the gRPC API (`api.tls_cert`, `api.tls_key`, `api.tls_client_ca`).
//!
//! With a certificate and key the API speaks TLS only (rustls through tonic, ring provider).
//! With a client CA as well, a client may present a certificate: the handshake fails unless
//! one of the CA certificates signed it, and a request over such a connection is authenticated
//! for every RPC ([`super::AuthPolicy::check`]), the way a token is. Clients without a
//! certificate are still accepted on the TLS connection (reads, or the bearer token), so a
//! monitoring system needs no client certificate; this is rustls' "client auth optional" mode.
//!
//! The files are read and the TLS configuration is built once, at start-up, so a bad file is a
//! start-up error naming the key, never a server that silently does not listen.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::ApiConfig;

/// Why the TLS files could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key}: cannot read {}: {reason}", path.display())]
    Io {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS's description.
        reason: String,
    },
    /// A file does not hold what the key needs.
    #[error("{key}: {} holds no PEM {what}", path.display())]
    NotPem {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// rustls refused the certificate, key or CA.
    #[error("api.tls_cert / api.tls_key / api.tls_client_ca: refused by TLS: {0}")]
    Refused(String),
}

/// The API's TLS configuration, ready for the server.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub(super) config: ServerTlsConfig,
    /// Whether client certificates are verified and authenticate (mTLS).
    pub client_certs: bool,
}

fn read(
    key: &'static str,
    path: &Path,
    marker: &str,
    what: &'static str,
) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::Io {
        key,
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN ") || !text.contains(marker) {
        return Err(TlsError::NotPem {
            key,
            path: path.to_owned(),
            what,
        });
    }
    Ok(bytes)
}

impl TlsSettings {
    /// The TLS settings of `cfg`: `None` without `tls_cert` (plaintext). Reads the files and
    /// has rustls check them now.
    pub fn from_config(cfg: &ApiConfig) -> Result<Option<Self>, TlsError> {
        let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) else {
            return Ok(None);
        };
        let cert = read("api.tls_cert", cert, "CERTIFICATE-----", "certificate")?;
        let key = read("api.tls_key", key, "PRIVATE KEY-----", "private key")?;
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        let client_certs = match &cfg.tls_client_ca {
            Some(ca) => {
                let ca = read(
                    "api.tls_client_ca",
                    ca,
                    "CERTIFICATE-----",
                    "CA certificate",
                )?;
                config = config
                    .client_ca_root(Certificate::from_pem(ca))
                    .client_auth_optional(true);
                true
            }
            None => false,
        };
        // Building the server's TLS acceptor parses everything: refuse now, not at serve time.
        tonic::transport::Server::builder()
            .tls_config(config.clone())
            .map_err(|e| TlsError::Refused(source_chain(&e)))?;
        Ok(Some(Self {
            config,
            client_certs,
        }))
    }
}

/// An error and its sources on one line (tonic's transport errors say little on their own).
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
