//! The drain's HTTP side: `GET /readyz` (503 once draining), `POST /admin/drain` (loopback
//! peers only), the stand-alone admin server of `[admin] listen`, and the client that
//! `dialbridge drain` uses to ask a running bridge.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::mpsc;

use super::Request;

/// The path of the drain endpoint.
pub const DRAIN_PATH: &str = "/admin/drain";
/// Drain requests waiting for the supervisor; when full, one is already on its way.
pub const REQUEST_CAPACITY: usize = 4;

/// What the endpoints share with the supervisor: the draining flag (set by the supervisor,
/// read by SIP and `/readyz`) and the way to ask for a drain.
#[derive(Clone)]
pub struct Control {
    draining: Arc<AtomicBool>,
    requests: mpsc::Sender<Request>,
    limit_s: u32,
}

impl Control {
    /// A control and the receiver of its drain requests; `limit_s` is only reported.
    pub fn new(limit_s: u32) -> (Control, mpsc::Receiver<Request>) {
        let (requests, rx) = mpsc::channel(REQUEST_CAPACITY);
        let control = Control {
            draining: Arc::new(AtomicBool::new(false)),
            requests,
            limit_s,
        };
        (control, rx)
    }

    /// The flag new INVITEs and OPTIONS look at.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.draining.clone()
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
        crate::metrics::DRAINING.set(1);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// `/readyz` and `POST /admin/drain`, to merge into a router served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn routes<S: Clone + Send + Sync + 'static>(control: Control) -> Router<S> {
    Router::new()
        .route("/readyz", get(readyz))
        .route(DRAIN_PATH, post(drain))
        .with_state(control)
}

async fn readyz(State(control): State<Control>) -> impl IntoResponse {
    if control.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

/// Only loopback peers may drain: the endpoint has no credentials, and whoever can log in to
/// the machine can send SIGTERM anyway.
async fn drain(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(control): State<Control>,
) -> impl IntoResponse {
    let ip = peer.ip().to_canonical();
    if !ip.is_loopback() {
        tracing::warn!(%peer, "drain request from outside the machine refused");
        return (
            StatusCode::FORBIDDEN,
            "only loopback clients may start a drain\n".to_string(),
        );
    }
    let calls = crate::metrics::CALLS_ACTIVE.get();
    if control.is_draining() {
        return (
            StatusCode::OK,
            format!("already draining: {calls} call(s) in progress\n"),
        );
    }
    // Full: drain requests are queued already, and one is as good as several.
    let _ = control.requests.try_send(Request::Drain);
    tracing::info!(%peer, "drain requested over HTTP");
    (
        StatusCode::ACCEPTED,
        format!(
            "draining: {calls} call(s) in progress may run up to {} s more\n",
            control.limit_s
        ),
    )
}

/// Binds `addr` (`[admin] listen`) and spawns [`serve_admin`] there until the stop flag; the
/// bound address.
pub async fn start_admin(
    addr: SocketAddr,
    control: Control,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let shutdown = async move { crate::shutdown::stopped(&mut stop).await };
    tokio::spawn(async move {
        if let Err(e) = serve_admin(listener, control, shutdown).await {
            tracing::error!(error = %e, "admin endpoints stopped");
        }
    });
    tracing::info!(addr = %local, "admin endpoints listening (/healthz, /readyz, /metrics, POST /admin/drain)");
    Ok(local)
}

/// Serves `/healthz`, `/readyz`, `/metrics` and `POST /admin/drain` on `listener` until
/// `shutdown` completes: the admin endpoints when no signaling server carries them.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    control: Control,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = routes(control)
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    crate::metrics::render(),
                )
            }),
        )
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// `POST /admin/drain` to a running bridge at `addr` (plain HTTP/1.0); its status and body.
pub fn request_drain(addr: SocketAddr, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let request = format!(
        "POST {DRAIN_PATH} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// The status and body of a whole HTTP/1.x response.
fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.trim_end().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response() {
        let (status, body) =
            parse_response(b"HTTP/1.1 202 Accepted\r\ncontent-length: 9\r\n\r\ndraining\n")
                .unwrap();
        assert_eq!((status, body.as_str()), (202, "draining"));
        assert!(parse_response(b"SIP/2.0 200 OK\r\n\r\n").is_err());
        assert!(parse_response(b"").is_err());
    }

    #[tokio::test]
    async fn drain_endpoint_asks_once_and_readyz_follows_the_flag() {
        let (control, mut rx) = Control::new(30);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_admin(listener, control.clone(), async {
            let _ = stop_rx.await;
        }));
        let get = |path: &'static str| {
            tokio::task::spawn_blocking(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
                let mut raw = Vec::new();
                s.read_to_end(&mut raw).unwrap();
                parse_response(&raw).unwrap()
            })
        };
        assert_eq!(get("/readyz").await.unwrap().0, 200);
        let post = tokio::task::spawn_blocking(move || request_drain(addr, Duration::from_secs(5)));
        let (status, body) = post.await.unwrap().unwrap();
        assert_eq!(status, 202, "{body}");
        assert!(body.contains("30 s"), "{body}");
        assert_eq!(rx.recv().await, Some(Request::Drain));
        control.set_draining();
        assert_eq!(get("/readyz").await.unwrap().0, 503);
        assert_eq!(get("/healthz").await.unwrap(), (200, "ok".to_string()));
        let again =
            tokio::task::spawn_blocking(move || request_drain(addr, Duration::from_secs(5)));
        assert_eq!(again.await.unwrap().unwrap().0, 200);
        assert!(rx.try_recv().is_err(), "no second request while draining");
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
    }
}
