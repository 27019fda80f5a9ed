//! Typed HTTP client for the mall's sync protocol.
//!
//! Every failure comes back as an [`ApiError`]. [`ApiError::is_transient`]
//! returns whether retrying can help: it is true for network failures,
//! timeouts, 5xx, 429 and unreadable response bodies, and false for
//! responses that will not change on a resend.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use reqwest::{Certificate, Client, Method, RequestBuilder, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::protocol::{
    API_PREFIX, EnrollRequest, EnrollResponse, ErrorBody, Event, PullResponse, PushRequest,
    PushResponse, RawPullResponse,
};

/// Failure of a request, sorted by what the caller should do next.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Worth retrying later: the backend was unreachable, slow, overloaded
    /// or broken, or its response was cut off. `retry_after` is the wait the
    /// backend asked for, if it asked.
    #[error("backend unavailable: {detail}")]
    Transient { retry_after: Option<Duration>, detail: String },
    /// The backend failed on its side (5xx). `retry_after` is the wait the
    /// backend asked for, if it asked.
    #[error("backend failed: {detail}")]
    ServerError { retry_after: Option<Duration>, detail: String },
    /// The backend asked this client to slow down (429).
    #[error("backend rate limit reached (429 Too Many Requests)")]
    RateLimited { retry_after: Option<Duration> },
    /// The bearer token is missing or unknown (401).
    #[error("backend rejected the token (401); the terminal must enrol again")]
    Unauthorized,
    /// The backend refused the one-time enrolment token (401 with an
    /// `enrolment_token_*` error code): unknown, expired or already used.
    /// The text is the backend's message.
    #[error("{0}")]
    EnrolmentRejected(String),
    /// The backend has already applied events of this terminal up to
    /// `last_seq`, so the pushed sequence numbers are behind (409
    /// `seq_behind`). Nothing in the batch was applied.
    #[error("backend has events of this terminal up to seq {last_seq}; the pushed ones are behind")]
    SeqBehind { last_seq: i64 },
    /// The batch named parcels or a terminal this terminal may not act on
    /// (403). Nothing in the batch was applied; `event_ids` lists the
    /// offending events.
    #[error("backend refused {} event(s) of the batch (403)", event_ids.len())]
    Forbidden { event_ids: Vec<Uuid> },
    /// The batch had too many events or too many bytes (413).
    #[error("batch too large for the backend (413); push fewer events at once")]
    TooLarge,
    /// The backend could not use the request (400 or another 4xx).
    #[error("backend rejected the request: {0}")]
    BadRequest(String),
    /// The backend's response broke the protocol, for example a push response
    /// that does not match the events sent one for one.
    #[error("backend response broke the protocol: {0}")]
    Protocol(String),
    /// The backend URL is not an http or https URL with a host.
    #[error(
        "backend URL {url:?} is invalid ({why}): give an address like http://192.0.2.10:8080 or https://mall.example.com"
    )]
    InvalidUrl { url: String, why: String },
    /// The client could not be built: invalid certificate, or the HTTP stack
    /// failed to start.
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ApiError {
    /// Returns true when the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::Transient { .. }
                | ApiError::ServerError { .. }
                | ApiError::RateLimited { .. }
        )
    }

    fn transient(detail: impl Into<String>) -> ApiError {
        ApiError::Transient { retry_after: None, detail: detail.into() }
    }
}

/// Client for one backend, optionally with a terminal's bearer token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: Client,
    base_url: Url,
    token: Option<String>,
}

impl ApiClient {
    /// Builds a client for the backend at `base_url` (for example
    /// `http://127.0.0.1:8080`). `extra_root_cert_pem` adds PEM certificates
    /// to the trusted roots, for a backend with a private CA. `timeout`
    /// bounds each whole request, connecting included.
    ///
    /// Fails with [`ApiError::Config`] on an invalid URL or certificate.
    pub fn new(
        base_url: &str,
        token: Option<String>,
        extra_root_cert_pem: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<ApiClient, ApiError> {
        let mut base_url = parse_base_url(base_url)?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }

        let mut builder = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("pickup-terminal/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_root_cert_pem {
            let certificates = Certificate::from_pem_bundle(&pem)
                .map_err(|err| ApiError::Config(format!("invalid root certificate PEM: {err}")))?;
            if certificates.is_empty() {
                return Err(ApiError::Config(
                    "root certificate PEM contains no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let http = builder
            .build()
            .map_err(|err| ApiError::Config(format!("failed to build HTTP client: {err}")))?;
        Ok(ApiClient { http, base_url, token })
    }

    /// Returns a client for the same backend with another bearer token, for
    /// example the one enrolment returned. The connection pool is shared.
    pub fn with_token(&self, token: String) -> ApiClient {
        ApiClient { http: self.http.clone(), base_url: self.base_url.clone(), token: Some(token) }
    }

    /// Returns the backend's base URL, always ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Enrols this terminal with a one-time token from the mall admin.
    pub async fn enroll(&self, enrolment_token: &str) -> Result<EnrollResponse, ApiError> {
        let body = EnrollRequest { enrolment_token: enrolment_token.to_string() };
        let request = self.request(Method::POST, "enroll", &[])?;
        send(json_body(request, &body)).await
    }

    /// Pushes events in outbox order and returns one result per event, in
    /// the same order. An empty slice sends nothing.
    ///
    /// Fails with [`ApiError::Protocol`] when the response's results do not
    /// match `events` one for one by event id.
    pub async fn push(&self, events: &[Event]) -> Result<PushResponse, ApiError> {
        if events.is_empty() {
            return Ok(PushResponse { results: Vec::new() });
        }
        let body = PushRequest { events: events.to_vec() };
        let request = self.authorized(self.request(Method::POST, "events", &[])?)?;
        let response: PushResponse = send(json_body(request, &body)).await?;
        check_results(events, &response)?;
        Ok(response)
    }

    /// Pulls the next page of changes after `cursor` (from the start for
    /// `None`).
    pub async fn pull(&self, cursor: Option<&str>) -> Result<PullResponse, ApiError> {
        let query: Vec<(&str, &str)> =
            cursor.map(|cursor| ("cursor", cursor)).into_iter().collect();
        let request = self.authorized(self.request(Method::GET, "changes", &query)?)?;
        send(request).await
    }

    /// Pulls the next page like [`ApiClient::pull`], but leaves each change
    /// undecoded, so one change the terminal cannot read does not fail the
    /// whole page.
    pub async fn pull_raw(&self, cursor: Option<&str>) -> Result<RawPullResponse, ApiError> {
        let query: Vec<(&str, &str)> =
            cursor.map(|cursor| ("cursor", cursor)).into_iter().collect();
        let request = self.authorized(self.request(Method::GET, "changes", &query)?)?;
        send(request).await
    }

    fn request(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<RequestBuilder, ApiError> {
        let path = format!("{}/{endpoint}", API_PREFIX.trim_start_matches('/'));
        let mut url = self
            .base_url
            .join(&path)
            .map_err(|err| ApiError::Config(format!("invalid endpoint {path}: {err}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(self.http.request(method, url))
    }

    fn authorized(&self, request: RequestBuilder) -> Result<RequestBuilder, ApiError> {
        match &self.token {
            Some(token) => Ok(request.header(AUTHORIZATION, format!("Bearer {token}"))),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// Parses a backend base URL: http or https with a host, and no query,
/// fragment or credentials.
///
/// Fails with [`ApiError::InvalidUrl`] naming what is wrong.
pub fn parse_base_url(text: &str) -> Result<Url, ApiError> {
    let invalid = |why: String| ApiError::InvalidUrl { url: text.to_owned(), why };
    let url = Url::parse(text.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("the scheme is {}, not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it has a query or fragment".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it contains a user name or password".to_owned()));
    }
    Ok(url)
}

fn json_body<T: Serialize>(request: RequestBuilder, body: &T) -> RequestBuilder {
    request.json(body)
}

/// Sends a request and decodes a 2xx JSON response, or classifies the failure.
async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ApiError> {
    let response = request.send().await.map_err(classify_send_error)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.bytes().await.map_err(|err| {
        ApiError::transient(format!("failed to read the {status} response: {err}"))
    })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|err| {
            ApiError::transient(format!("invalid JSON in the {status} response: {err}"))
        });
    }
    Err(classify_status(status, retry_after, &body))
}

fn classify_send_error(err: reqwest::Error) -> ApiError {
    if err.is_builder() {
        return ApiError::Config(format!("invalid request: {err}"));
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ApiError::transient(format!("{kind}: {}", error_chain(&err)))
}

/// Joins an error and its sources, because reqwest's own message hides the
/// cause (refused, reset, DNS).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps a non-2xx response to an error.
fn classify_status(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let error_body: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let detail = match &error_body {
        Some(error) => format!("{status}: {} ({})", error.message, error.error),
        None => {
            format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]).trim())
        }
    };
    let error_code = error_body.as_ref().map(|error| error.error.as_str()).unwrap_or_default();
    match status {
        StatusCode::UNAUTHORIZED if error_code.starts_with("enrolment_token") => {
            let message = error_body.map(|error| error.message).unwrap_or(detail);
            ApiError::EnrolmentRejected(message)
        }
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
        StatusCode::CONFLICT if error_code == "seq_behind" => {
            match error_body.and_then(|error| error.last_seq) {
                Some(last_seq) => ApiError::SeqBehind { last_seq },
                None => ApiError::Protocol(format!("{detail}, without last_seq")),
            }
        }
        StatusCode::FORBIDDEN => ApiError::Forbidden {
            event_ids: error_body.map(|error| error.event_ids).unwrap_or_default(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { retry_after },
        StatusCode::REQUEST_TIMEOUT => ApiError::Transient { retry_after, detail },
        _ if status.is_server_error() => ApiError::ServerError { retry_after, detail },
        _ => ApiError::BadRequest(detail),
    }
}

/// Parses a `Retry-After` in seconds. The HTTP-date form is not used by the
/// reference backend and counts as absent.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn check_results(events: &[Event], response: &PushResponse) -> Result<(), ApiError> {
    if response.results.len() != events.len() {
        return Err(ApiError::Protocol(format!(
            "push of {} events got {} results",
            events.len(),
            response.results.len()
        )));
    }
    for (index, (event, result)) in events.iter().zip(&response.results).enumerate() {
        if event.event_id != result.event_id {
            return Err(ApiError::Protocol(format!(
                "push result {index} is for event {}, expected {}",
                result.event_id, event.event_id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::{EventBody, EventOutcome, EventResult};
    use chrono::Utc;
    use std::io::{Read, Write};

    fn event(seq: i64) -> Event {
        Event {
            event_id: Uuid::new_v4(),
            terminal_id: "S1-T01".into(),
            seq,
            device_time: Utc::now(),
            operator_id: "clerk".into(),
            barcode: format!("JJD{seq:04}"),
            body: EventBody::HandedOver,
        }
    }

    /// Returns a 200 response whose content-length claims `length` bytes.
    fn response(length: usize, body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{body}"
        )
    }

    /// Serves each connection the same raw HTTP response, then closes it. The
    /// server thread ends with the test process.
    pub(crate) fn raw_server(response: String) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut socket in listener.incoming().flatten() {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buffer);
                let _ = socket.write_all(response.as_bytes());
            }
        });
        format!("http://{addr}")
    }

    fn client(base_url: &str, timeout: Duration) -> ApiClient {
        ApiClient::new(base_url, Some("token".into()), None, timeout).unwrap()
    }

    #[tokio::test]
    async fn refused_connection_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err =
            client(&format!("http://{addr}"), Duration::from_secs(2)).pull(None).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn silent_server_times_out_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts one connection and never responds; the thread ends with
        // the test process.
        std::thread::spawn(move || {
            let held = listener.accept();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let err = client(&format!("http://{addr}"), Duration::from_millis(200))
            .pull(None)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn truncated_body_is_transient() {
        let base = raw_server(response(100, "{\"changes\":["));
        let err = client(&base, Duration::from_secs(2)).pull(None).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn invalid_json_body_is_transient() {
        let base = raw_server(response(5, "hello"));
        let err = client(&base, Duration::from_secs(2)).pull(None).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn mismatched_push_results_fail() {
        let body = "{\"results\":[]}";
        let base = raw_server(response(body.len(), body));
        let err = client(&base, Duration::from_secs(2)).push(&[event(1)]).await.unwrap_err();
        assert!(matches!(err, ApiError::Protocol(_)), "{err}");
    }

    #[tokio::test]
    async fn push_without_token_is_unauthorized() {
        let client =
            ApiClient::new("http://127.0.0.1:9", None, None, Duration::from_secs(1)).unwrap();
        let err = client.push(&[event(1)]).await.unwrap_err();
        assert!(matches!(err, ApiError::Unauthorized), "{err}");
    }

    #[test]
    fn too_many_requests_keeps_retry_after() {
        let err = classify_status(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)), b"");
        assert!(
            matches!(err, ApiError::RateLimited { retry_after: Some(wait) }
                if wait == Duration::from_secs(3)),
            "{err:?}"
        );
    }

    #[test]
    fn server_error_is_transient() {
        assert!(classify_status(StatusCode::BAD_GATEWAY, None, b"").is_transient());
    }

    #[test]
    fn forbidden_carries_event_ids() {
        let id = Uuid::new_v4();
        let body = serde_json::to_vec(&ErrorBody {
            error: "foreign_parcel".into(),
            message: "no".into(),
            event_ids: vec![id],
            last_seq: None,
        })
        .unwrap();
        let err = classify_status(StatusCode::FORBIDDEN, None, &body);
        assert!(matches!(err, ApiError::Forbidden { event_ids } if event_ids == vec![id]));
    }

    #[test]
    fn bad_request_carries_message() {
        let body = br#"{"error":"malformed_json","message":"invalid JSON request body"}"#;
        let err = classify_status(StatusCode::BAD_REQUEST, None, body);
        assert!(
            matches!(&err, ApiError::BadRequest(detail) if detail.contains("invalid JSON")),
            "{err}"
        );
    }

    #[test]
    fn payload_too_large_is_permanent() {
        let err = classify_status(StatusCode::PAYLOAD_TOO_LARGE, None, b"");
        assert!(matches!(err, ApiError::TooLarge));
    }

    #[test]
    fn reordered_results_fail_check() {
        let events = [event(1), event(2)];
        let results = events
            .iter()
            .rev()
            .map(|event| EventResult { event_id: event.event_id, outcome: EventOutcome::Accepted })
            .collect();
        let err = check_results(&events, &PushResponse { results }).unwrap_err();
        assert!(matches!(err, ApiError::Protocol(_)));
    }

    #[test]
    fn base_url_gains_trailing_slash() {
        let client = client("http://127.0.0.1:8080/mall", Duration::from_secs(1));
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8080/mall/");
    }

    #[test]
    fn used_enrolment_token_keeps_message() {
        let body = br#"{"error":"enrolment_token_used","message":"token was already used"}"#;
        let err = classify_status(StatusCode::UNAUTHORIZED, None, body);
        assert!(matches!(&err, ApiError::EnrolmentRejected(text) if text.contains("already used")));
    }

    #[test]
    fn seq_behind_carries_last_seq() {
        let body = br#"{"error":"seq_behind","message":"behind","last_seq":41}"#;
        let err = classify_status(StatusCode::CONFLICT, None, body);
        assert!(matches!(err, ApiError::SeqBehind { last_seq: 41 }), "{err:?}");
    }

    #[test]
    fn base_url_rejects_other_schemes() {
        for url in ["ftp://127.0.0.1/", "http//127.0.0.1", "http://", "https://u:p@host/"] {
            let result = ApiClient::new(url, None, None, Duration::from_secs(1));
            assert!(matches!(result, Err(ApiError::InvalidUrl { .. })), "{url}: {result:?}");
        }
    }

    #[test]
    fn invalid_certificate_is_config_error() {
        let result = ApiClient::new(
            "https://127.0.0.1:1",
            None,
            Some(b"not a certificate".to_vec()),
            Duration::from_secs(1),
        );
        assert!(matches!(result, Err(ApiError::Config(_))));
    }

    /// Fuzz targets: whatever the server sends, decoding returns a value or
    /// an error and never panics.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;
        use std::sync::{Arc, Mutex};

        /// A server that sends each connection the bytes last stored in the
        /// returned slot. The thread ends with the test process.
        fn scripted_server() -> (String, Arc<Mutex<Vec<u8>>>) {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let slot = Arc::new(Mutex::new(Vec::new()));
            let reply = slot.clone();
            std::thread::spawn(move || {
                for mut socket in listener.incoming().flatten() {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let _ = socket.read(&mut buffer);
                    let bytes = reply.lock().unwrap().clone();
                    let _ = socket.write_all(&bytes);
                }
            });
            (format!("http://{addr}"), slot)
        }

        fn json_like() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300),
                "[\\[\\]{}:,\"a-z0-9 .-]{0,120}".prop_map(String::into_bytes),
                Just(br#"{"results":[{"event_id":"not-a-uuid","outcome":"accepted"}]}"#.to_vec()),
                Just(br#"{"changes":[{"kind":"unknown"}],"cursor":"x","more":true}"#.to_vec()),
                Just(br#"{"error":"x","message":"y","event_ids":[1,2]}"#.to_vec()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

            #[test]
            fn status_and_body_never_panic(
                code in 100u16..1000,
                retry in prop::option::of(".{0,12}"),
                body in json_like(),
            ) {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
                let retry_after = retry.as_deref().and_then(parse_retry_after);
                let error = classify_status(status, retry_after, &body);
                prop_assert!(!error.to_string().is_empty());
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

            #[test]
            fn any_http_response_never_panics(
                status in prop_oneof![Just(200u16), Just(400), Just(403), Just(503), 100u16..600],
                body in json_like(),
                length_delta in -3i64..3,
                garbage_head in any::<bool>(),
            ) {
                let (base, slot) = scripted_server();
                let length = (body.len() as i64 + length_delta).max(0);
                let mut response = if garbage_head {
                    b"HTTP/1.1 2x0 ??\r\n\r\n".to_vec()
                } else {
                    format!("HTTP/1.1 {status} X\r\ncontent-length: {length}\r\n\r\n").into_bytes()
                };
                response.extend_from_slice(&body);
                *slot.lock().unwrap() = response;
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let client = client(&base, Duration::from_millis(500));
                runtime.block_on(async {
                    let _ = client.pull(Some("cursor")).await;
                    let _ = client.push(&[event(1)]).await;
                    let _ = client.enroll("token").await;
                });
            }
        }
    }
}
