//! The built-in room signaling server: JSON messages over WebSocket (`GET /ws`), rooms with
//! numeric IDs and optional PINs kept in memory, the host page (`GET /`, see [`web`]), plus
//! `GET /healthz` and `GET /metrics`.
//!
//! Rooms come from the config and from hosts who create them over the protocol
//! ([`protocol`] has every message; `docs/signaling-protocol.md` describes them). Participants
//! (browsers, and phone callers through the bridge) join rooms, relay WebRTC SDP/ICE to each
//! other in a mesh, and hosts mute or remove them. The phone bridge uses the server through
//! [`crate::conference::builtin::BuiltinBackend`]. Each connection is one task ([`connection`]);
//! the room registry ([`rooms`]) sits behind a `std::sync::Mutex` that is never held across an
//! `.await`. Rooms created over the protocol are removed after being empty for a while.

mod connection;
mod guard;
pub mod metrics;
pub mod protocol;
pub mod rooms;
mod state;
pub mod tls_listener;
pub mod web;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, watch};

pub use metrics::ExtraMetrics;
pub use protocol::WS_PATH;
use state::AppState;
pub use state::{EMPTY_ROOM_TTL, SignalingState};

/// Hard cap on one WebSocket message; above it the socket itself fails. Messages between
/// [`protocol::MAX_MESSAGE_BYTES`] and this get a `too_large` error and the connection stays.
const WS_HARD_LIMIT_BYTES: usize = 1024 * 1024;

/// Listen backlog of [`bind`]: room for a burst of connects (a page reload of a whole room,
/// many calls at once) while the accept loop catches up. `TcpListener::bind` uses 128.
const LISTEN_BACKLOG: u32 = 1024;

/// How long [`serve`] waits for open connections to close after shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds a listener for [`serve`] with a deeper backlog than `TcpListener::bind`, so a burst of
/// hundreds of connects is not slowed by SYN retries. Must run inside a Tokio runtime.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The WebSocket URL of a server listening on `addr`; a wildcard address becomes loopback.
pub fn ws_url(addr: SocketAddr) -> String {
    url_with_scheme("ws", addr)
}

/// [`ws_url`] for a server behind [`tls_listener`].
pub fn wss_url(addr: SocketAddr) -> String {
    url_with_scheme("wss", addr)
}

fn url_with_scheme(scheme: &str, addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}{WS_PATH}", SocketAddr::new(ip, addr.port()))
}

/// Serves HTTP and WebSocket on `listener` (a `TcpListener`, or HTTPS and wss:// with
/// [`tls_listener::listen`]) until `shutdown` completes, then closes every open WebSocket (close
/// code 1001) and waits up to 5 s for the connections to finish.
pub async fn serve<L>(
    listener: L,
    state: SignalingState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> SocketAddr: Connected<axum::serve::IncomingStream<'a, L>>,
{
    serve_with(listener, state, Router::new(), shutdown).await
}

/// [`serve`] with `extra` routes next to ours (the bridge's `/readyz` and `/admin/drain`);
/// handlers may extract `ConnectInfo<SocketAddr>`.
pub async fn serve_with<L>(
    listener: L,
    state: SignalingState,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> SocketAddr: Connected<axum::serve::IncomingStream<'a, L>>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let (drain_tx, mut drain_rx) = mpsc::channel::<()>(1);
    let sweeper = tokio::spawn(sweep_rooms(state.clone()));
    let app = Router::new()
        .route("/", get(web::index))
        .route("/app.js", get(web::app_js))
        .route("/mesh.js", get(web::mesh_js))
        .route("/style.css", get(web::style_css))
        .route(WS_PATH, get(ws_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_handler))
        .with_state(AppState {
            state,
            shutdown: stop_rx,
            drain: drain_tx,
        })
        .merge(extra);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "signaling server listening");
    }
    let stop = async move {
        shutdown.await;
        // Tell WebSocket tasks too: axum's graceful shutdown does not wait for upgraded sockets.
        let _ = stop_tx.send(true);
    };
    // The peer address is the key of the guessing limit.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    // The router (and its drain sender) is gone now; the receiver ends when the last
    // connection task has dropped its clone.
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain_rx.recv()).await;
    sweeper.abort();
    tracing::info!("signaling server stopped");
    result
}

/// Removes long-empty rooms created over the protocol, until aborted.
async fn sweep_rooms(state: SignalingState) {
    let ttl = state.empty_room_ttl;
    let period = (ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let removed = state.registry().sweep(Instant::now(), ttl);
        for room in removed {
            tracing::info!(room, "removed a room that stayed empty");
        }
    }
}

async fn ws_handler(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(app): State<AppState>,
) -> impl IntoResponse {
    ws.max_message_size(WS_HARD_LIMIT_BYTES)
        .max_frame_size(WS_HARD_LIMIT_BYTES)
        .on_upgrade(move |socket| {
            connection::run(socket, peer.ip(), app.state, app.shutdown, app.drain)
        })
}

async fn metrics_handler(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.state.metrics_text(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ws_url_maps_wildcards_to_loopback() {
        assert_eq!(
            ws_url("0.0.0.0:8080".parse().unwrap()),
            "ws://127.0.0.1:8080/ws"
        );
        assert_eq!(ws_url("[::]:9".parse().unwrap()), "ws://[::1]:9/ws");
        assert_eq!(
            ws_url("10.0.0.5:80".parse().unwrap()),
            "ws://10.0.0.5:80/ws"
        );
        assert_eq!(
            wss_url("0.0.0.0:443".parse().unwrap()),
            "wss://127.0.0.1:443/ws"
        );
    }

    #[test]
    fn empty_secret_means_none() {
        let s = SignalingState::new(&[], Arc::new(String::new)).with_secret(Some("x".into()));
        assert_eq!(s.secret.as_deref(), Some("x"));
        let s = SignalingState::new(&[], Arc::new(String::new)).with_secret(Some(String::new()));
        assert!(s.secret.is_none());
    }
}
