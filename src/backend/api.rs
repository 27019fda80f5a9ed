//! Handlers of the terminal protocol: enrolment, push and pull.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::apply::apply_batch;
use super::changes;
use super::enrol::{self, Terminal};
use super::error::ApiFailure;
use super::server::SharedState;
use crate::protocol::{
    EnrollRequest, EnrollResponse, EventOutcome, MAX_PULL_CHANGES, MAX_PUSH_BYTES, MAX_PUSH_EVENTS,
    PullResponse, PushRequest, PushResponse,
};

/// The terminal that a request's bearer token belongs to, after its rate
/// limit was checked.
pub struct TerminalAuth(pub Terminal);

impl FromRequestParts<SharedState> for TerminalAuth {
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, ApiFailure> {
        let Some(token) = bearer_token(parts) else {
            return Err(ApiFailure::unauthorized(
                "unauthorized",
                "missing bearer token; enrol the terminal and send its token",
            ));
        };
        let token = token.to_string();
        let terminal = state.with_db(move |conn, _| Ok(enrol::authenticate(conn, &token)?)).await?;
        let Some(terminal) = terminal else {
            tracing::info!(path = parts.uri.path(), "request with an unknown bearer token");
            return Err(ApiFailure::unauthorized(
                "unauthorized",
                "unknown bearer token; enrol the terminal again",
            ));
        };
        check_rate(state, &format!("terminal:{}", terminal.terminal_id))?;
        Ok(TerminalAuth(terminal))
    }
}

/// Returns the token of an `Authorization: Bearer` header.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Fails with 429 and `Retry-After` when `key` is over its rate limit.
fn check_rate(state: &SharedState, key: &str) -> Result<(), ApiFailure> {
    state.limiter.check(key).map_err(|wait| too_many_requests(key, wait))
}

fn too_many_requests(key: &str, wait: Duration) -> ApiFailure {
    tracing::debug!(key, wait_ms = wait.as_millis() as u64, "request over rate limit");
    let mut failure = ApiFailure::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests; retry after the time in Retry-After",
    );
    failure.retry_after_secs = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
    failure
}

/// A JSON request body whose failures get a 400 (or 413) response with an
/// [`crate::protocol::ErrorBody`], like every other failure.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiFailure;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiFailure> {
        let bytes = Bytes::from_request(request, state).await.map_err(body_failure)?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub(crate) fn body_failure(rejection: BytesRejection) -> ApiFailure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiFailure::too_large(
            "body_too_large",
            format!(
                "request body is larger than {MAX_PUSH_BYTES} bytes; send fewer events per push"
            ),
        )
    } else {
        ApiFailure::bad_request(
            "unreadable_body",
            format!("failed to read the request body: {rejection}"),
        )
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiFailure> {
    serde_json::from_slice(bytes).map_err(|err| {
        ApiFailure::bad_request("malformed_json", format!("invalid JSON request body: {err}"))
    })
}

/// `POST /v1/enroll`: turns a one-time enrolment token into a terminal.
pub async fn enroll(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(request): JsonBody<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiFailure> {
    check_rate(&state, &format!("enrol:{}", peer.ip()))?;
    let now = Utc::now();
    let response = state
        .with_db(move |conn, state| {
            let tx = conn.transaction()?;
            let response = enrol::enroll(&tx, &state.issuer(), &request.enrolment_token, now)?;
            tx.commit()?;
            Ok(response)
        })
        .await?;
    Ok(Json(response))
}

/// `POST /v1/events`: applies a batch of clerk events.
pub async fn push_events(
    State(state): State<SharedState>,
    TerminalAuth(terminal): TerminalAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PushResponse>, ApiFailure> {
    let terminal_id = terminal.terminal_id.clone();
    let parsed = body.map_err(body_failure).and_then(|bytes| parse_json::<PushRequest>(&bytes));
    let request = match parsed {
        Ok(request) => request,
        Err(failure) => {
            tracing::warn!(terminal_id, error = failure.code, "push body rejected");
            return Err(failure);
        }
    };
    let count = request.events.len();
    if count > MAX_PUSH_EVENTS {
        tracing::warn!(terminal_id, events = count, "push rejected: too many events");
        return Err(ApiFailure::too_large(
            "too_many_events",
            format!("push has {count} events; send at most {MAX_PUSH_EVENTS} per request"),
        ));
    }
    if count == 0 {
        return Ok(Json(PushResponse { results: Vec::new() }));
    }

    let now = Utc::now();
    let results = state
        .with_db(move |conn, state| {
            apply_batch(conn, &state.issuer(), &terminal, &request.events, now)
        })
        .await?;
    let count_of =
        |wanted: fn(&EventOutcome) -> bool| results.iter().filter(|r| wanted(&r.outcome)).count();
    tracing::info!(
        terminal_id,
        events = count,
        accepted = count_of(|o| matches!(o, EventOutcome::Accepted)),
        duplicate = count_of(|o| matches!(o, EventOutcome::Duplicate)),
        rejected = count_of(|o| matches!(o, EventOutcome::Rejected { .. })),
        "push applied"
    );
    Ok(Json(PushResponse { results }))
}

#[derive(Debug, Deserialize)]
pub struct PullQuery {
    cursor: Option<String>,
}

/// `GET /v1/changes?cursor=C`: returns the terminal's next page of changes.
pub async fn pull_changes(
    State(state): State<SharedState>,
    TerminalAuth(terminal): TerminalAuth,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiFailure> {
    let Query(query) = query.map_err(|err| {
        ApiFailure::bad_request("invalid_query", format!("invalid query string: {err}"))
    })?;
    let page = state
        .with_db(move |conn, _| {
            changes::pull(
                conn,
                &terminal.store_id,
                &terminal.terminal_id,
                query.cursor.as_deref(),
                MAX_PULL_CHANGES,
            )
        })
        .await?;
    Ok(Json(page))
}
