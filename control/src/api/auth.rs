//! Access control: a bearer token read from `api.token_file` and/or a client certificate
//! verified by mutual TLS (`api.tls_client_ca`, [`super::tls`]), one of them required for every
//! mutating RPC and, with `api.require_token_for_reads`, for read-only ones too.
//!
//! Clients send `authorization: Bearer <token>` metadata, or connect with a certificate the
//! client CA signed (a request on such a connection is authenticated whatever its metadata). A
//! missing or wrong token without a certificate is UNAUTHENTICATED; a mutating RPC on a server
//! with neither a token nor a client CA is PERMISSION_DENIED (mutations are disabled, no
//! credential can help). Health and reflection are never protected: load balancers and
//! grpcurl need them without credentials.

use std::path::{Path, PathBuf};

use tonic::metadata::MetadataMap;
use tonic::Status;

use crate::config::ApiConfig;

/// What an RPC does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only reads state.
    Read,
    /// Changes state.
    Write,
}

/// Why the token could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read.
    #[error("api.token_file: cannot read {}: {reason}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS's description.
        reason: String,
    },
    /// The file holds no token.
    #[error("api.token_file: {} is empty", path.display())]
    Empty {
        /// The path.
        path: PathBuf,
    },
}

/// Who may call what. See the module documentation.
#[derive(Clone)]
pub struct AuthPolicy {
    token: Option<String>,
    require_for_reads: bool,
    client_certs: bool,
}

impl std::fmt::Debug for AuthPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPolicy")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("require_for_reads", &self.require_for_reads)
            .field("client_certs", &self.client_certs)
            .finish()
    }
}

impl AuthPolicy {
    /// A policy with `token` (none: mutations disabled).
    pub fn new(token: Option<String>, require_for_reads: bool) -> Self {
        Self {
            token,
            require_for_reads,
            client_certs: false,
        }
    }

    /// Also accepts requests on connections with a verified client certificate (mTLS).
    pub fn with_client_certs(mut self, on: bool) -> Self {
        self.client_certs = on;
        self
    }

    /// The policy of `cfg`, reading `token_file` (trimmed; must not be empty).
    pub fn from_config(cfg: &ApiConfig) -> Result<Self, AuthError> {
        let token = cfg.token_file.as_deref().map(read_token).transpose()?;
        Ok(Self::new(token, cfg.require_token_for_reads)
            .with_client_certs(cfg.tls_client_ca.is_some() && cfg.tls_cert.is_some()))
    }

    /// Checks an RPC of kind `access` with metadata `md`, on a connection whose client
    /// presented a certificate the TLS handshake verified (`client_cert`) or not.
    #[allow(clippy::result_large_err)] // tonic::Status is what handlers return.
    pub fn check(&self, md: &MetadataMap, access: Access, client_cert: bool) -> Result<(), Status> {
        if access == Access::Read && !self.require_for_reads {
            return Ok(());
        }
        if client_cert && self.client_certs {
            return Ok(());
        }
        let Some(token) = &self.token else {
            if self.client_certs {
                return Err(Status::unauthenticated(
                    "a client certificate signed by api.tls_client_ca is required (the server \
                     has no api.token_file)",
                ));
            }
            return Err(Status::permission_denied(
                "mutating RPCs are disabled: the server has neither api.token_file nor \
                 api.tls_client_ca",
            ));
        };
        let given = md
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match given {
            None => Err(Status::unauthenticated(
                "missing bearer token (metadata \"authorization: Bearer <token>\")",
            )),
            Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
        }
    }
}

fn read_token(path: &Path) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuthError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(AuthError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(t.to_owned())
}

/// Compares without an early exit on the first differing byte (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(v: Option<&str>) -> MetadataMap {
        let mut m = MetadataMap::new();
        if let Some(v) = v {
            m.insert("authorization", v.parse().unwrap());
        }
        m
    }

    #[test]
    fn policy() {
        let p = AuthPolicy::new(Some("s3cret".into()), false);
        assert!(p.check(&md(None), Access::Read, false).is_ok());
        let code = |r: Result<(), Status>| r.unwrap_err().code();
        assert_eq!(
            code(p.check(&md(None), Access::Write, false)),
            tonic::Code::Unauthenticated
        );
        let wrong = md(Some("Bearer s3creT"));
        assert_eq!(
            code(p.check(&wrong, Access::Write, false)),
            tonic::Code::Unauthenticated
        );
        assert!(p
            .check(&md(Some("Bearer s3cret")), Access::Write, false)
            .is_ok());
        let reads = AuthPolicy::new(Some("s3cret".into()), true);
        assert_eq!(
            code(reads.check(&md(None), Access::Read, false)),
            tonic::Code::Unauthenticated
        );
        let none = AuthPolicy::new(None, false);
        let ok = md(Some("Bearer s3cret"));
        assert_eq!(
            code(none.check(&ok, Access::Write, false)),
            tonic::Code::PermissionDenied
        );
        assert!(!format!("{p:?}").contains("s3cret"));
        // A certificate counts only when the server verifies client certificates.
        assert_eq!(
            code(p.check(&md(None), Access::Write, true)),
            tonic::Code::Unauthenticated
        );
        let mtls = AuthPolicy::new(Some("s3cret".into()), true).with_client_certs(true);
        assert!(mtls.check(&md(None), Access::Write, true).is_ok());
        assert!(mtls.check(&md(None), Access::Read, true).is_ok());
        assert!(mtls.check(&ok, Access::Write, false).is_ok());
        let cert_only = AuthPolicy::new(None, false).with_client_certs(true);
        assert!(cert_only.check(&md(None), Access::Write, true).is_ok());
        assert_eq!(
            code(cert_only.check(&ok, Access::Write, false)),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn token_file() {
        let dir = std::env::temp_dir().join(format!("cgnat-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "  abc\n").unwrap();
        let mut cfg = ApiConfig {
            token_file: Some(f.clone()),
            ..ApiConfig::default()
        };
        let p = AuthPolicy::from_config(&cfg).unwrap();
        assert!(p
            .check(&md(Some("Bearer abc")), Access::Write, false)
            .is_ok());
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            AuthPolicy::from_config(&cfg),
            Err(AuthError::Empty { .. })
        ));
        cfg.token_file = Some(dir.join("missing"));
        let e = AuthPolicy::from_config(&cfg).unwrap_err();
        assert!(
            e.to_string().starts_with("api.token_file: cannot read"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
