//! The sync engine: pushes the outbox to the backend in order and pulls the
//! changes since the stored cursor.
//!
//! An event leaves the queue only on the backend's result for that event:
//! accepted or duplicate marks it sent, rejected quarantines it. A crash
//! between the backend's response and the local commit leaves the event
//! pending; the next push gets "duplicate" for it and marks it sent then, so
//! nothing is lost and nothing is applied twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::{Notify, mpsc, oneshot};

use super::client::{ApiClient, ApiError};
use crate::desk::inbound::{self, Pulled};
use crate::protocol::{EventOutcome, MAX_PUSH_EVENTS, PROTOCOL_VERSION, PushResponse};
use crate::store::credentials::Credentials;
use crate::store::outbox::{self, OutboxEntry};
use crate::store::{self, StoreError, sync_state};

/// Settings of the sync engine.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Time between syncs when nothing else triggers one.
    pub interval: Duration,
    /// Events per push, at most [`MAX_PUSH_EVENTS`].
    pub batch: usize,
    /// Tries of an event that the backend keeps rejecting with 400, before
    /// it is quarantined.
    pub max_attempts: u32,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// First retry delay after a transient failure; it doubles up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A PEM certificate to trust besides the system roots, for an https backend.
    pub extra_root_cert: Option<PathBuf>,
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            interval: Duration::from_secs(30),
            batch: 100,
            max_attempts: 5,
            request_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            extra_root_cert: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this terminal is not enrolled with the mall: enrol it first")]
    NotEnrolled,
    #[error("the backend rejected this terminal's token: enrol the terminal again")]
    Unauthorized,
    #[error("backend unreachable ({0}); the events stay queued and are sent later")]
    Transient(String, Option<Duration>),
    #[error(
        "the backend failed ({detail}); the events stay queued and are sent on a later sync. \
         If this lasts, tell the mall's IT"
    )]
    ServerFailed { detail: String, retry_after: Option<Duration> },
    #[error(
        "the backend is limiting this terminal's requests (429 Too Many Requests){}; \
         the events stay queued and are sent after the wait",
        wait_text(*retry_after)
    )]
    RateLimited { retry_after: Option<Duration> },
    /// The backend URL given or stored is not a usable http(s) URL.
    #[error("{0}")]
    InvalidBackendUrl(String),
    /// The backend refused the one-time enrolment token; the text is its
    /// message.
    #[error("enrolment failed: {0}")]
    EnrolmentRejected(String),
    /// Enrolling again would strand events that only the old enrolment's
    /// store can accept.
    #[error(
        "{count} event(s) recorded here are not yet sent to store {store_id}: \
         run `pickup-terminal sync` first, or enrol with --force to keep them \
         as quarantined events in `status` and the Problems list instead of sending them"
    )]
    UnsentEvents { count: u64, store_id: String },
    /// A backend given for one sync does not know the enrolled terminal.
    #[error(
        "the backend at {url} does not know this terminal, which is enrolled with {enrolled_url}: \
         sync without --backend, or enrol the terminal with that backend"
    )]
    WrongBackend { url: String, enrolled_url: String },
    #[error("the backend answered {0}; the events stay queued")]
    Protocol(String),
    #[error("reading the trusted certificate {path} failed: {source}")]
    Certificate { path: PathBuf, source: std::io::Error },
    #[error("data directory {path} cannot be created: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Credentials(#[from] store::credentials::CredentialsError),
}

impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> SyncError {
        SyncError::Store(error.into())
    }
}

fn wait_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(" and asked to wait {} s", wait.as_secs().max(1)),
        None => String::new(),
    }
}

impl SyncError {
    /// True when trying again later may succeed without anyone acting.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Transient(..)
                | SyncError::ServerFailed { .. }
                | SyncError::RateLimited { .. }
                | SyncError::Protocol(_)
                | SyncError::Store(StoreError::Busy)
        )
    }

    /// Returns the wait the backend asked for, if it asked.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Transient(_, retry_after)
            | SyncError::ServerFailed { retry_after, .. }
            | SyncError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// True when the input (a URL or an enrolment token) was wrong, so
    /// repeating the same command cannot succeed.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            SyncError::InvalidBackendUrl(_)
                | SyncError::EnrolmentRejected(_)
                | SyncError::WrongBackend { .. }
        )
    }
}

/// Counts of one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub pushed: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub changes: u64,
    /// Pulled changes that could not be used and were recorded as skipped.
    pub skipped: u64,
    pub queue_depth: u64,
}

/// Runs one full sync on its own connection to the terminal database: push
/// everything pending, then pull every change.
pub async fn sync_once(data_dir: &Path, config: &SyncConfig) -> Result<SyncReport, SyncError> {
    sync_once_via(data_dir, config, None).await
}

/// Runs one full sync like [`sync_once`], with the backend at `backend_url`
/// in place of the enrolled address when it is given, for example after the
/// backend moved. The stored credentials are not changed.
pub async fn sync_once_via(
    data_dir: &Path,
    config: &SyncConfig,
    backend_url: Option<&str>,
) -> Result<SyncReport, SyncError> {
    let mut conn = store::open(&data_dir.join(store::DB_FILE))?;
    let result = sync_with(&mut conn, data_dir, config, backend_url).await;
    let recorded = match &result {
        Ok(_) => sync_state::record_success(&conn, Utc::now()),
        Err(error) => sync_state::record_failure(&conn, &error.to_string()),
    };
    if let Err(error) = recorded {
        tracing::warn!(%error, "sync: recording the outcome failed");
    }
    result
}

async fn sync_with(
    conn: &mut Connection,
    data_dir: &Path,
    config: &SyncConfig,
    backend_url: Option<&str>,
) -> Result<SyncReport, SyncError> {
    let mut credentials = Credentials::load(data_dir)?.ok_or(SyncError::NotEnrolled)?;
    let enrolled_url = credentials.backend_url.clone();
    if let Some(url) = backend_url {
        credentials.backend_url = url.trim().trim_end_matches('/').to_owned();
    }
    let client = client_for(&credentials, config)?;
    let mut report = SyncReport::default();
    let exchanged = async {
        push_all(conn, &client, &credentials, config, &mut report).await?;
        pull_all(conn, &client, &mut report).await
    };
    match exchanged.await {
        Err(SyncError::Unauthorized) if credentials.backend_url != enrolled_url => {
            return Err(SyncError::WrongBackend { url: credentials.backend_url, enrolled_url });
        }
        result => result?,
    }
    report.queue_depth = outbox::summary(conn)?.depth;
    Ok(report)
}

impl SyncConfig {
    /// Reads the extra trusted certificate, if one is configured.
    pub fn read_extra_root_cert(&self) -> Result<Option<Vec<u8>>, SyncError> {
        let Some(path) = &self.extra_root_cert else { return Ok(None) };
        std::fs::read(path)
            .map(Some)
            .map_err(|source| SyncError::Certificate { path: path.clone(), source })
    }
}

/// Maps a client error of a request that concerns no particular event.
pub fn client_error(error: ApiError) -> SyncError {
    match error {
        ApiError::Unauthorized | ApiError::Forbidden { .. } => SyncError::Unauthorized,
        ApiError::Transient { retry_after, detail } => SyncError::Transient(detail, retry_after),
        ApiError::ServerError { retry_after, detail } => {
            SyncError::ServerFailed { detail, retry_after }
        }
        ApiError::RateLimited { retry_after } => SyncError::RateLimited { retry_after },
        ApiError::EnrolmentRejected(message) => SyncError::EnrolmentRejected(message),
        error @ ApiError::InvalidUrl { .. } => SyncError::InvalidBackendUrl(error.to_string()),
        other => SyncError::Protocol(other.to_string()),
    }
}

/// Builds the API client for the enrolled backend.
pub fn client_for(credentials: &Credentials, config: &SyncConfig) -> Result<ApiClient, SyncError> {
    let certificate = config.read_extra_root_cert()?;
    ApiClient::new(
        &credentials.backend_url,
        Some(credentials.token.clone()),
        certificate,
        config.request_timeout,
    )
    .map_err(client_error)
}

async fn push_all(
    conn: &mut Connection,
    client: &ApiClient,
    credentials: &Credentials,
    config: &SyncConfig,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let mut batch_size = config.batch.clamp(1, MAX_PUSH_EVENTS);
    let mut renumbered = false;
    loop {
        let batch = outbox::pending(conn, batch_size)?;
        if batch.is_empty() {
            return Ok(());
        }
        let events: Vec<_> =
            batch.iter().map(|entry| entry.to_event(&credentials.terminal_id)).collect();
        match client.push(&events).await {
            Ok(response) => record_results(conn, &batch, &response, report)?,
            Err(ApiError::SeqBehind { last_seq }) if !renumbered => {
                renumber_pending(conn, last_seq)?;
                renumbered = true;
            }
            Err(error) => {
                batch_size = handle_push_error(conn, &batch, error, batch_size, config, report)?;
            }
        }
    }
}

/// Numbers the pending events above the backend's `last_seq`. Only one
/// renumbering per sync is tried, so a backend that keeps returning
/// `seq_behind` ends the sync with an error instead of a loop.
fn renumber_pending(conn: &mut Connection, last_seq: i64) -> Result<(), SyncError> {
    let tx = conn.transaction()?;
    let renumbered = outbox::renumber_pending_above(&tx, last_seq)?;
    tx.commit()?;
    tracing::warn!(
        last_seq,
        renumbered,
        "sync: the backend has later events than this database; unsent events numbered above them"
    );
    Ok(())
}

/// Stores the backend's result for each event of a batch, in one transaction.
fn record_results(
    conn: &mut Connection,
    batch: &[OutboxEntry],
    response: &PushResponse,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let matches = response.results.len() == batch.len()
        && response
            .results
            .iter()
            .zip(batch)
            .all(|(result, entry)| result.event_id == entry.event_id);
    if !matches {
        return Err(SyncError::Protocol("results that do not match the pushed events".into()));
    }
    let now = Utc::now();
    let tx = conn.transaction()?;
    for result in &response.results {
        match &result.outcome {
            EventOutcome::Accepted => {
                outbox::mark_sent(&tx, result.event_id, now)?;
                report.pushed += 1;
            }
            EventOutcome::Duplicate => {
                outbox::mark_sent(&tx, result.event_id, now)?;
                report.duplicates += 1;
            }
            EventOutcome::Rejected { reason } => {
                outbox::quarantine(&tx, result.event_id, reason)?;
                tracing::warn!(event_id = %result.event_id, reason = %reason, "sync: event rejected and quarantined");
                report.quarantined += 1;
            }
        }
    }
    tx.commit()?;
    tracing::info!(events = batch.len(), "sync: batch pushed");
    Ok(())
}

/// Deals with a failed push and returns the batch size to use next. Errors
/// that one event causes are narrowed down by halving the batch until the
/// event is alone, which then counts a failed try.
fn handle_push_error(
    conn: &mut Connection,
    batch: &[OutboxEntry],
    error: ApiError,
    batch_size: usize,
    config: &SyncConfig,
    report: &mut SyncReport,
) -> Result<usize, SyncError> {
    match error {
        ApiError::Forbidden { event_ids } if !event_ids.is_empty() => {
            let tx = conn.transaction()?;
            for event_id in &event_ids {
                outbox::quarantine(
                    &tx,
                    *event_id,
                    "the backend says this parcel belongs to another store",
                )?;
                report.quarantined += 1;
            }
            tx.commit()?;
            tracing::warn!(events = event_ids.len(), "sync: events for another store quarantined");
            Ok(batch_size)
        }
        ApiError::TooLarge | ApiError::BadRequest(_) if batch_size > 1 => {
            Ok((batch_size / 2).max(1))
        }
        ApiError::TooLarge | ApiError::BadRequest(_) => {
            let entry = &batch[0];
            let detail = error.to_string();
            let tx = conn.transaction()?;
            let attempts =
                outbox::record_failure(&tx, entry.event_id, &detail, config.max_attempts)?;
            if attempts >= config.max_attempts {
                tracing::warn!(event_id = %entry.event_id, attempts, "sync: event quarantined after repeated failures");
                report.quarantined += 1;
            }
            tx.commit()?;
            if attempts < config.max_attempts {
                return Err(SyncError::Protocol(detail));
            }
            Ok(batch_size)
        }
        ApiError::SeqBehind { last_seq } => Err(SyncError::Protocol(format!(
            "seq_behind (last seq {last_seq}) again after the unsent events were numbered above it"
        ))),
        other => Err(client_error(other)),
    }
}

async fn pull_all(
    conn: &mut Connection,
    client: &ApiClient,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    loop {
        let cursor = sync_state::get(conn)?.cursor;
        let page = client.pull_raw(cursor.as_deref()).await.map_err(client_error)?;
        if page.protocol != PROTOCOL_VERSION {
            return Err(SyncError::Protocol(format!(
                "changes in protocol version {}, but this terminal reads version \
                 {PROTOCOL_VERSION}; pulling stopped, so update the terminal",
                page.protocol
            )));
        }
        let now = Utc::now();
        let tx = conn.transaction()?;
        for change in &page.changes {
            match inbound::apply_pulled(&tx, change, true, now)? {
                Pulled::Applied => report.changes += 1,
                Pulled::Skipped(_) => report.skipped += 1,
            }
        }
        sync_state::set_cursor(&tx, &page.cursor)?;
        tx.commit()?;
        if !page.more {
            return Ok(());
        }
        if cursor.as_deref() == Some(page.cursor.as_str()) {
            return Err(SyncError::Protocol(
                "more changes without moving the cursor; pull stopped to avoid a loop".into(),
            ));
        }
    }
}

/// The longest `Retry-After` the engine waits for. A longer one, from a
/// misconfigured backend or a proxy, would leave the queue unsent for hours
/// with the clerk unaware, so the engine waits this long and then tries again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Returns the delay before retry number `failures` (1 for the first): full
/// jitter over an exponential bound, and never less than the backend's
/// Retry-After, which counts up to [`MAX_RETRY_AFTER`].
pub fn backoff(config: &SyncConfig, failures: u32, retry_after: Option<Duration>) -> Duration {
    let retry_after = retry_after.map(|wait| wait.min(MAX_RETRY_AFTER));
    let exponent = failures.saturating_sub(1).min(16);
    let bound = config.backoff_base.saturating_mul(1 << exponent).min(config.backoff_cap);
    let jittered = bound.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
    jittered
        .max(retry_after.unwrap_or_default())
        .min(config.backoff_cap.max(retry_after.unwrap_or_default()))
}

/// A running sync engine. Dropping the handle stops it after its current sync.
#[derive(Clone)]
pub struct SyncHandle {
    wake: Arc<Notify>,
    requests: mpsc::Sender<oneshot::Sender<Result<SyncReport, String>>>,
}

impl SyncHandle {
    /// Starts the engine on `runtime`. It syncs at start, after every
    /// [`SyncHandle::notify`], every `config.interval`, and after a failure
    /// once its backoff delay has passed.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        data_dir: PathBuf,
        config: SyncConfig,
    ) -> SyncHandle {
        let wake = Arc::new(Notify::new());
        let (requests, inbox) = mpsc::channel(8);
        runtime.spawn(run(data_dir, config, wake.clone(), inbox));
        SyncHandle { wake, requests }
    }

    /// Asks for a sync soon, for example after a new event.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Returns a function that calls [`SyncHandle::notify`], for the desk.
    pub fn notifier(&self) -> Arc<dyn Fn() + Send + Sync> {
        let wake = self.wake.clone();
        Arc::new(move || wake.notify_one())
    }

    /// Runs a sync now and waits for its report.
    pub async fn sync_now(&self) -> Result<SyncReport, String> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(reply).await.map_err(|_| "the sync engine stopped".to_owned())?;
        answer.await.map_err(|_| "the sync engine stopped".to_owned())?
    }
}

async fn run(
    data_dir: PathBuf,
    config: SyncConfig,
    wake: Arc<Notify>,
    mut inbox: mpsc::Receiver<oneshot::Sender<Result<SyncReport, String>>>,
) {
    let mut failures = 0u32;
    let mut delay = Duration::ZERO;
    loop {
        let mut reply = None;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = wake.notified(), if failures == 0 => {}
            request = inbox.recv() => match request {
                Some(sender) => reply = Some(sender),
                None => return,
            },
        }
        let result = sync_once(&data_dir, &config).await;
        (failures, delay) = match &result {
            Ok(_) => (0, config.interval),
            Err(SyncError::NotEnrolled) => (0, config.interval),
            Err(error) => {
                let retry_after = error.retry_after();
                let failures = failures + 1;
                let delay = backoff(&config, failures, retry_after);
                tracing::warn!(%error, failures, retry_in_ms = delay.as_millis() as u64, "sync: failed");
                (failures, delay)
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(result.map_err(|error| error.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_cap() {
        let config = SyncConfig::default();
        assert!(backoff(&config, 1, None) <= Duration::from_secs(1));
        assert!(backoff(&config, 4, None) >= Duration::from_secs(4));
        assert!(backoff(&config, 40, None) <= config.backoff_cap);
    }

    /// Starts a loopback server that sends a 200 with `body` to every
    /// request.
    fn canned_backend(body: &'static str) -> String {
        crate::sync::client::tests::raw_server(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Enrols the terminal in `dir` with the backend at `url`.
    fn enrol_at(dir: &std::path::Path, url: String) {
        let credentials = Credentials {
            backend_url: url,
            terminal_id: "S1-T01".into(),
            store_id: "S1".into(),
            token: "token".into(),
            code_key: "00".repeat(32),
        };
        credentials.save(dir).unwrap();
    }

    #[tokio::test]
    async fn newer_protocol_stops_pull() {
        let dir = tempfile::tempdir().unwrap();
        let url =
            canned_backend(r#"{"protocol":2,"changes":[{"type":"x"}],"cursor":"c","more":false}"#);
        enrol_at(dir.path(), url);

        let error = sync_once(dir.path(), &SyncConfig::default()).await.unwrap_err();

        assert!(error.to_string().contains("protocol version 2"), "{error}");
        let conn = store::open(&dir.path().join(store::DB_FILE)).unwrap();
        assert_eq!(sync_state::get(&conn).unwrap().cursor, None);
        assert!(sync_state::skipped_changes(&conn).unwrap().is_empty());
    }

    #[tokio::test]
    async fn undecodable_change_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let url = canned_backend(
            r#"{"changes":[{"type":"parcel_cancelled","barcode":42},{"type":"parcel_teleported"}],"cursor":"v1.x.2","more":false}"#,
        );
        enrol_at(dir.path(), url);

        let report = sync_once(dir.path(), &SyncConfig::default()).await.unwrap();

        assert_eq!(report.skipped, 2);
        let conn = store::open(&dir.path().join(store::DB_FILE)).unwrap();
        assert_eq!(sync_state::get(&conn).unwrap().cursor.as_deref(), Some("v1.x.2"));
        let skipped = sync_state::skipped_changes(&conn).unwrap();
        assert_eq!(skipped[1].change_type.as_deref(), Some("parcel_teleported"));
    }

    #[test]
    fn backoff_honours_retry_after() {
        let config = SyncConfig::default();
        assert!(backoff(&config, 1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }

    #[test]
    fn backoff_caps_long_retry_after() {
        let config = SyncConfig::default();
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(backoff(&config, 1, Some(day)), MAX_RETRY_AFTER);
        assert_eq!(backoff(&config, 9, Some(MAX_RETRY_AFTER)), MAX_RETRY_AFTER);
    }
}
