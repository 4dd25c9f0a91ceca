//! [`ApiError`]: why an API call was refused, and its gRPC status code.

/// Why an [`Appliance`](super::Appliance) call or an API request was refused. Each variant is
/// one gRPC status code; the message is one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A malformed or unacceptable value (INVALID_ARGUMENT).
    #[error("{0}")]
    InvalidArgument(String),
    /// No such subscriber, block or holder (NOT_FOUND).
    #[error("{0}")]
    NotFound(String),
    /// Valid, but not in the current state (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The appliance cannot answer now (UNAVAILABLE).
    #[error("{0}")]
    Unavailable(String),
    /// Not implemented by this appliance (UNIMPLEMENTED).
    #[error("{0}")]
    Unimplemented(String),
    /// A bug or an unexpected failure (INTERNAL).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// INVALID_ARGUMENT with `msg`.
    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::InvalidArgument(msg.into())
    }

    /// NOT_FOUND with `msg`.
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }

    /// FAILED_PRECONDITION with `msg`.
    pub fn precondition(msg: impl Into<String>) -> Self {
        ApiError::FailedPrecondition(msg.into())
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> tonic::Code {
        match self {
            ApiError::InvalidArgument(_) => tonic::Code::InvalidArgument,
            ApiError::NotFound(_) => tonic::Code::NotFound,
            ApiError::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            ApiError::Unavailable(_) => tonic::Code::Unavailable,
            ApiError::Unimplemented(_) => tonic::Code::Unimplemented,
            ApiError::Internal(_) => tonic::Code::Internal,
        }
    }
}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        tonic::Status::new(e.code(), e.to_string())
    }
}

impl From<crate::ConfigError> for ApiError {
    fn from(e: crate::ConfigError) -> Self {
        ApiError::InvalidArgument(e.to_string())
    }
}
