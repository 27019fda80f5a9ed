//! Placeholder until the protocol client lands.

use std::time::Duration;

use uuid::Uuid;

use crate::protocol::{Event, PullResponse, PushResponse};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Transient { retry_after: Option<Duration>, detail: String },
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden { event_ids: Vec<Uuid> },
    #[error("too large")]
    TooLarge,
    #[error("bad request: {0}")]
    BadRequest(String),
}

pub struct ApiClient;

impl ApiClient {
    pub fn new(
        _: &str,
        _: Option<String>,
        _: Option<Vec<u8>>,
        _: Duration,
    ) -> Result<ApiClient, ApiError> {
        Err(ApiError::BadRequest("not built".into()))
    }
    pub async fn enroll(&self, _: &str) -> Result<crate::protocol::EnrollResponse, ApiError> {
        Err(ApiError::BadRequest("not built".into()))
    }
    pub async fn push(&self, _: &[Event]) -> Result<PushResponse, ApiError> {
        Err(ApiError::BadRequest("not built".into()))
    }
    pub async fn pull(&self, _: Option<&str>) -> Result<PullResponse, ApiError> {
        Err(ApiError::BadRequest("not built".into()))
    }
}
