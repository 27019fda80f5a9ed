//! Starting and stopping the HTTP server, and the state its handlers share.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::codes::{CodeIssuer, CodeSecret, OutboxGateway, SmsGateway};
use super::error::ApiFailure;
use super::rate_limit::{RateLimit, RateLimiter};
use super::tls::{self, TlsFiles, TlsListener};
use super::{admin, api, db, enrol};
use crate::protocol::MAX_PUSH_BYTES;

/// Settings of a backend server.
#[derive(Clone)]
pub struct BackendConfig {
    /// The SQLite file; created when missing. The code secret is kept beside
    /// it, in the same path with `.code-secret` appended.
    pub db_path: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Token for the admin page and admin API. Must not be empty.
    pub admin_token: String,
    /// Request limit per terminal, and per client address for enrolment.
    pub rate_limit: RateLimit,
    /// Gateway that sends the customers' text messages.
    pub sms: Arc<dyn SmsGateway>,
    /// Time a client has to send a request's headers, counted from when the
    /// server starts reading them; a slower connection is closed. Plain
    /// http only; over https the TLS handshake has its own timeout.
    pub header_read_timeout: Duration,
    /// Certificate and key to serve https with; plain http when `None`.
    pub tls: Option<TlsFiles>,
}

/// Default of [`BackendConfig::header_read_timeout`]. A terminal sends its
/// headers in one write, so this leaves room for a slow mobile link.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl BackendConfig {
    /// Returns a configuration with the default rate limit and the bundled
    /// SMS outbox.
    pub fn new(
        db_path: impl Into<PathBuf>,
        listen: SocketAddr,
        admin_token: impl Into<String>,
    ) -> Self {
        BackendConfig {
            db_path: db_path.into(),
            listen,
            admin_token: admin_token.into(),
            rate_limit: RateLimit::default(),
            sms: Arc::new(OutboxGateway),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            tls: None,
        }
    }
}

impl Default for BackendConfig {
    /// Returns `mall-backend.db` in the working directory, a free port on
    /// 127.0.0.1, and a random admin token (read it back from
    /// [`RunningBackend::admin_url`]).
    fn default() -> Self {
        let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        BackendConfig::new("mall-backend.db", listen, enrol::random_token())
    }
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendConfig")
            .field("db_path", &self.db_path)
            .field("listen", &self.listen)
            .field("admin_token", &"<hidden>")
            .field("rate_limit", &self.rate_limit)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// State shared by every handler.
pub(crate) struct AppState {
    db: Mutex<Connection>,
    secret: CodeSecret,
    sms: Arc<dyn SmsGateway>,
    pub limiter: RateLimiter,
    /// SHA-256 of the admin token; requests are compared against it.
    pub admin_token_hash: String,
    /// Kept to build the admin page's own links and form addresses.
    pub admin_token: String,
}

pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    pub fn issuer(&self) -> CodeIssuer<'_> {
        CodeIssuer { secret: &self.secret, sms: self.sms.as_ref() }
    }

    /// Runs `work` on the blocking thread pool with the database connection
    /// locked for its duration.
    pub async fn with_db<T, F>(self: &Arc<Self>, work: F) -> Result<T, ApiFailure>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &AppState) -> Result<T, ApiFailure> + Send + 'static,
    {
        let state = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let state = state.as_ref();
            // A panic while the lock was held rolled back its transaction
            // when the transaction dropped, so the connection is usable.
            let mut conn = state.db.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, state)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(err) => Err(ApiFailure::internal(&anyhow::anyhow!("database task failed: {err}"))),
        }
    }
}

/// A backend server running on the current tokio runtime. Dropping it stops
/// the server too, without waiting for it.
pub struct RunningBackend {
    addr: SocketAddr,
    https: bool,
    db_path: PathBuf,
    admin_token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl fmt::Debug for RunningBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningBackend")
            .field("addr", &self.addr)
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

impl RunningBackend {
    /// Returns the address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the server's base URL, such as `http://127.0.0.1:8080`, or
    /// `https://` when it serves TLS. An unspecified listen address becomes
    /// the loopback address.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Returns the admin page's address with the admin token as `?token=`.
    pub fn admin_url(&self) -> String {
        format!("{}/admin?token={}", self.base_url(), percent_encode(&self.admin_token))
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Stops accepting connections, lets open requests finish, and waits for
    /// the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => tracing::info!(addr = %self.addr, "mall backend stopped"),
                Ok(Err(err)) => {
                    tracing::error!(addr = %self.addr, error = %err, "mall backend failed")
                }
                Err(err) => {
                    tracing::error!(addr = %self.addr, error = %err, "mall backend task failed")
                }
            }
        }
    }
}

/// Opens the database, binds `config.listen` and serves the protocol and
/// admin endpoints until [`RunningBackend::shutdown`].
///
/// Fails when the admin token is empty, the database, code secret or TLS
/// files cannot be opened, or the address cannot be bound.
pub async fn start(config: BackendConfig) -> anyhow::Result<RunningBackend> {
    if config.admin_token.trim().is_empty() {
        bail!("admin token is empty; set one or let the backend generate it");
    }
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let db_path = config.db_path.clone();
    let secret_path = CodeSecret::path_for(&db_path);
    let (conn, secret) = tokio::task::spawn_blocking(move || {
        let conn = db::open(&db_path)?;
        let secret = CodeSecret::load_or_create(&secret_path)?;
        anyhow::Ok((conn, secret))
    })
    .await??;

    let state = Arc::new(AppState {
        db: Mutex::new(conn),
        secret,
        sms: Arc::clone(&config.sms),
        limiter: RateLimiter::new(config.rate_limit),
        admin_token_hash: enrol::token_hash(&config.admin_token),
        admin_token: config.admin_token.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let https = acceptor.is_some();
    let task = match acceptor {
        None => tokio::spawn(serve(listener, router(state), config.header_read_timeout, stopped)),
        Some(acceptor) => {
            let service = router(state).into_make_service_with_connect_info::<SocketAddr>();
            // A dropped sender also stops the server.
            let stopped = async move {
                let _ = stopped.await;
            };
            // `tap_io` only wraps the listener, so that axum's connect-info
            // extractor gets the peer address of a listener it does not know.
            let listener = TlsListener { tcp: listener, acceptor }.tap_io(|_| {});
            tokio::spawn(async move {
                axum::serve(listener, service).with_graceful_shutdown(stopped).await
            })
        }
    };
    tracing::info!(%addr, https, db = %config.db_path.display(), "mall backend listening");
    Ok(RunningBackend {
        addr,
        https,
        db_path: config.db_path,
        admin_token: config.admin_token,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Accepts connections until `stopped` fires or its sender is dropped, then
/// lets open connections finish their requests. Unlike `axum::serve`, this
/// loop bounds the time to send request headers, so a client that sends
/// half a request cannot hold a connection open forever.
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    header_read_timeout: Duration,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let (closing, closing_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Running out of file descriptors is the usual cause;
                    // a pause lets open connections finish.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        while connections.try_join_next().is_some() {}
        // Without TCP_NODELAY a response written in two parts waits for the
        // client's delayed acknowledgement, about 40 ms per request on Linux.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "backend: TCP_NODELAY cannot be set");
        }
        let service = TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(peer))));
        let closing_signal = closing_signal.clone();
        connections.spawn(serve_connection(stream, service, header_read_timeout, closing_signal));
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    service: TowerToHyperService<Router>,
    header_read_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        // The guard that wait_for returns must not live across the await
        // below, or the future is not Send.
        () = async { drop(closing.wait_for(|closing| *closing).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

fn router(state: SharedState) -> Router {
    Router::new()
        .route("/v1/enroll", post(api::enroll))
        .route("/v1/events", post(api::push_events).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)))
        .route("/v1/changes", get(api::pull_changes))
        .route("/admin", get(admin::page))
        .route("/admin/sms", get(admin::sms))
        .route("/admin/parcels/{barcode}/recall", post(admin::recall))
        .route("/admin/parcels/{barcode}/reissue", post(admin::reissue))
        .route("/admin/parcels/{barcode}/deadline", post(admin::set_deadline))
        .route("/admin/stores/{store}/enrolments", post(admin::create_enrolment))
        .route("/admin/stores/{store}/parcels", post(admin::announce))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn not_found() -> ApiFailure {
    ApiFailure::not_found("no such endpoint; see docs/openapi.yaml for the endpoints")
}

/// Logs each request's method, path and status. The query is left out
/// because it may hold the admin token.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request served"
    );
    response
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a
/// query value.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encode_escapes_reserved() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn config_debug_hides_admin_token() {
        let config =
            BackendConfig::new("mall.db", "127.0.0.1:0".parse().unwrap(), "hunter2hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
