//! The failure type of every backend handler: an HTTP status with an
//! [`ErrorBody`], so each failure carries its own status and message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::protocol::ErrorBody;

/// A failed request's response: the status and body the client gets.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    /// Stable machine-readable code, for example `unauthorized`.
    pub code: &'static str,
    pub message: String,
    pub event_ids: Vec<Uuid>,
    /// Seconds for the `Retry-After` header.
    pub retry_after_secs: Option<u64>,
    /// The terminal's last applied seq, sent with `seq_behind`.
    pub last_seq: Option<i64>,
}

impl ApiFailure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiFailure {
            status,
            code,
            message: message.into(),
            event_ids: Vec::new(),
            retry_after_secs: None,
            last_seq: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    /// Attaches the events this failure is about.
    pub fn with_event_ids(mut self, event_ids: Vec<Uuid>) -> Self {
        self.event_ids = event_ids;
        self
    }

    /// Builds the 500 response for an unexpected failure and logs the cause,
    /// which is kept out of the response.
    pub fn internal(err: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{err:#}"), "backend request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error in the backend; see its log",
        )
    }
}

impl From<anyhow::Error> for ApiFailure {
    fn from(err: anyhow::Error) -> Self {
        ApiFailure::internal(&err)
    }
}

impl From<rusqlite::Error> for ApiFailure {
    fn from(err: rusqlite::Error) -> Self {
        ApiFailure::internal(&err.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
            event_ids: self.event_ids,
            last_seq: self.last_seq,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
