//! A fault-injecting HTTP proxy on loopback, between the terminal and the
//! reference backend. It reads one request per connection, applies the
//! current [`Fault`], and closes the connection after the response, so every
//! request meets the fault that was set when it arrived.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Forwards the request and returns the backend's response.
    None,
    /// Closes the listening port, so connecting fails with "refused".
    Refused,
    /// Reads the request and resets the connection, so the backend never gets it.
    ResetBeforeResponse,
    /// Forwards the request, then resets the connection instead of responding.
    ResetAfterResponse,
    /// Forwards the request and delays the response by this long.
    Delay(Duration),
    /// Forwards the request, then responds 500 in place of the real response.
    ServerError,
    /// Responds 503 with `Retry-After: 1` without forwarding.
    Unavailable,
    /// Responds 429 with `Retry-After: 1` without forwarding.
    TooManyRequests,
    /// Forwards the request and sends only half of the response body.
    TruncatedBody,
    /// Forwards the request and responds 200 with a body that is not JSON.
    InvalidJson,
    /// Forwards the request and sends the response in 20 pieces, 10 ms apart.
    Trickle,
    /// Responds 400 to a request that contains [`POISON_BARCODE`] and
    /// forwards the others.
    BadRequestForPoison,
}

/// The barcode that [`Fault::BadRequestForPoison`] makes the proxy reject.
pub(crate) const POISON_BARCODE: &str = "POISON-0001";

/// Counters the tests read.
#[derive(Debug, Default)]
pub(crate) struct ProxyStats {
    /// Requests read from the terminal, whatever the fault.
    pub requests: AtomicU64,
    /// Requests passed on to the backend.
    pub forwarded: AtomicU64,
    /// Responses from the backend that the proxy is delaying right now.
    pub held: AtomicU64,
}

struct Shared {
    backend: SocketAddr,
    fault: watch::Sender<Fault>,
    stats: ProxyStats,
}

/// A running proxy; dropping it stops accepting connections.
pub(crate) struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `backend`.
    pub(crate) async fn start(backend: SocketAddr) -> FaultProxy {
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let (fault, _) = watch::channel(Fault::None);
        let shared = Arc::new(Shared { backend, fault, stats: ProxyStats::default() });
        let task = tokio::spawn(accept_loop(listener, addr, shared.clone()));
        FaultProxy { addr, shared, task }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    pub(crate) fn stats(&self) -> &ProxyStats {
        &self.shared.stats
    }

    pub(crate) fn requests(&self) -> u64 {
        self.shared.stats.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds with SO_REUSEADDR, so the port can be bound again after
/// [`Fault::Refused`] ends.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    let mut changes = shared.fault.subscribe();
    loop {
        let fault = *changes.borrow_and_update();
        if fault == Fault::Refused {
            listener = None;
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            listener = Some(bind(addr).expect("the proxy port is free again"));
        }
        let current = listener.as_ref().expect("bound above");
        tokio::select! {
            accepted = current.accept() => {
                if let Ok((socket, _)) = accepted {
                    tokio::spawn(serve(socket, shared.clone()));
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut socket).await else { return };
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::SeqCst);
    let fault = *shared.fault.borrow();
    match fault {
        Fault::Refused | Fault::ResetBeforeResponse => return reset(socket),
        Fault::Unavailable => return answer(socket, "503 Service Unavailable", "1").await,
        Fault::TooManyRequests => return answer(socket, "429 Too Many Requests", "1").await,
        Fault::BadRequestForPoison if contains(&request, POISON_BARCODE.as_bytes()) => {
            return answer(socket, "400 Bad Request", "").await;
        }
        _ => {}
    }
    let backend = shared.backend;
    stats.forwarded.fetch_add(1, Ordering::SeqCst);
    let Some(response) = forward(&request, backend).await else { return reset(socket) };
    let (head, body) = split_head(&response);
    match fault {
        Fault::ResetAfterResponse => reset(socket),
        Fault::Delay(hold) => {
            stats.held.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(hold).await;
            stats.held.fetch_sub(1, Ordering::SeqCst);
            let _ = socket.write_all(&response).await;
        }
        Fault::ServerError => answer(socket, "500 Internal Server Error", "").await,
        Fault::TruncatedBody => {
            let _ = socket.write_all(head).await;
            let _ = socket.write_all(&body[..body.len() / 2]).await;
        }
        Fault::InvalidJson => {
            let text = "{\"results\": [tru";
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
        Fault::Trickle => {
            let _ = socket.write_all(head).await;
            let piece = body.len().div_ceil(20).max(1);
            for chunk in body.chunks(piece) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if socket.write_all(chunk).await.is_err() {
                    return;
                }
            }
        }
        _ => {
            let _ = socket.write_all(&response).await;
        }
    }
}

/// Reads one HTTP/1.1 request: the head, then a body of `content-length`
/// bytes. Returns `None` when the peer closes first.
async fn read_request(socket: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find_head_end(&buffer) {
            let length = content_length(&buffer[..end]);
            if buffer.len() >= end + length {
                return Some(buffer);
            }
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|window| window == b"\r\n\r\n").map(|start| start + 4)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

fn split_head(response: &[u8]) -> (&[u8], &[u8]) {
    let end = find_head_end(response).unwrap_or(response.len());
    response.split_at(end)
}

/// Sends `request` to the backend with `connection: close` and reads the
/// whole response. Returns `None` when the backend cannot be reached.
async fn forward(request: &[u8], backend: SocketAddr) -> Option<Vec<u8>> {
    let (head, body) = split_head(request);
    let head = String::from_utf8_lossy(head);
    let mut rewritten = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            rewritten.push_str(line);
            rewritten.push_str("\r\n");
        }
    }
    rewritten.push_str("connection: close\r\n\r\n");

    let mut upstream = TcpStream::connect(backend).await.ok()?;
    upstream.write_all(rewritten.as_bytes()).await.ok()?;
    upstream.write_all(body).await.ok()?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response).await.ok()?;
    (!response.is_empty()).then_some(response)
}

async fn answer(mut socket: TcpStream, status: &str, retry_after: &str) {
    let retry = if retry_after.is_empty() {
        String::new()
    } else {
        format!("retry-after: {retry_after}\r\n")
    };
    let body = "{\"error\":\"proxy_fault\",\"message\":\"injected by the test proxy\"}";
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{retry}\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(reply.as_bytes()).await;
}

/// Closes the connection with a TCP reset instead of an orderly close.
fn reset(socket: TcpStream) {
    let _ = socket.set_zero_linger();
    drop(socket);
}
