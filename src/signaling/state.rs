//! The signaling server's shared state ([`SignalingState`]: rooms, counters, secrets) and the
//! per-router state the HTTP and WebSocket handlers get, below the server and its connections.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::guard::WebGuessing;
use super::metrics::{ExtraMetrics, Metrics, RegistryGauges};
use super::protocol::Participant;
use super::rooms::Registry;
use crate::config::{GuessingConfig, RoomConfig};

/// Default of [`SignalingState::with_empty_room_ttl`]: a room created over the protocol is
/// removed once it has been empty this long (a host reloading the page keeps the room).
pub const EMPTY_ROOM_TTL: Duration = Duration::from_secs(10 * 60);

/// The server's shared state: the room registry, counters, the optional shared secret, and
/// the caller's extra metrics. Cheap to clone; clones share everything, so a state outlives a
/// [`serve`] run (rooms survive a restart of the listener within one process).
#[derive(Clone)]
pub struct SignalingState {
    pub(super) inner: Arc<Inner>,
    /// When set, `lookup_room` and `check_pin` need `auth` with this secret first.
    pub(super) secret: Option<Arc<str>>,
    /// `auth` with this token (or the secret) marks the phone bridge's own connection, which
    /// the guessing limit leaves alone.
    pub(super) bridge_token: Option<Arc<str>>,
    /// The guessing limit of web clients; `None`: no limit.
    pub(super) guessing: Option<Arc<WebGuessing>>,
    /// How to call in, shown on the host page.
    pub(super) dial_in: Arc<str>,
    pub(super) empty_room_ttl: Duration,
}

pub(super) struct Inner {
    pub(super) registry: Mutex<Registry>,
    pub(super) metrics: Metrics,
    pub(super) extra_metrics: ExtraMetrics,
}

impl SignalingState {
    /// A state holding `rooms`; `extra_metrics` text is appended to `/metrics` (pass
    /// `Arc::new(String::new)` for none).
    pub fn new(rooms: &[RoomConfig], extra_metrics: ExtraMetrics) -> SignalingState {
        SignalingState {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry::new(rooms)),
                metrics: Metrics::default(),
                extra_metrics,
            }),
            secret: None,
            bridge_token: None,
            guessing: None,
            dial_in: Arc::from(""),
            empty_room_ttl: EMPTY_ROOM_TTL,
        }
    }

    /// The dial-in text the host page shows next to the room ID, e.g. `"+49 30 1234567"` or
    /// `"sip:dialin@bridge.example"`. Empty (the default): the page says dial-in is not set up.
    pub fn with_dial_in(mut self, text: impl Into<String>) -> SignalingState {
        self.dial_in = Arc::from(text.into());
        self
    }

    /// How long a room created over the protocol may stay empty before it is removed (default
    /// [`EMPTY_ROOM_TTL`]). Checked by [`serve`] about four times per `ttl` (at most every 30 s).
    pub fn with_empty_room_ttl(mut self, ttl: Duration) -> SignalingState {
        self.empty_room_ttl = ttl;
        self
    }

    /// The dial-in text set with [`SignalingState::with_dial_in`].
    pub fn dial_in(&self) -> &str {
        &self.dial_in
    }

    /// The key that makes a `web` participant host of `room` (configured rooms get one at start,
    /// also written to the log).
    pub fn host_key(&self, room: &str) -> Option<String> {
        self.registry().host_key(room).map(str::to_string)
    }

    /// Everyone in `room` now; `None` if there is no such room.
    pub fn participants(&self, room: &str) -> Option<Vec<Participant>> {
        self.registry().participants(room)
    }

    /// Requires clients to present `secret` before `lookup_room`/`check_pin` (connections
    /// opened from this value on). An empty secret means none.
    pub fn with_secret(mut self, secret: Option<String>) -> SignalingState {
        self.secret = secret.filter(|s| !s.is_empty()).map(Arc::from);
        self
    }

    /// Limits how many wrong room IDs and PINs one client address may try (see
    /// `docs/security.md`); off by default.
    pub fn with_guessing_limit(mut self, config: &GuessingConfig) -> SignalingState {
        self.guessing = Some(Arc::new(WebGuessing::new(config)));
        self
    }

    /// A token that, sent with `auth`, marks the phone bridge's connection: the guessing limit
    /// does not apply to it. An empty token means none. The shared secret, when set, does the
    /// same.
    pub fn with_bridge_token(mut self, token: Option<String>) -> SignalingState {
        self.bridge_token = token.filter(|s| !s.is_empty()).map(Arc::from);
        self
    }

    /// The `/metrics` text: the server's counters, then the extra metrics.
    pub fn metrics_text(&self) -> String {
        let gauges = {
            let r = self.registry();
            RegistryGauges {
                rooms: r.room_count(),
                participants: r.participant_count(),
            }
        };
        self.inner
            .metrics
            .render(gauges, Some(&self.inner.extra_metrics))
    }

    /// Locks the registry. A panic while holding it cannot leave a half-updated map (each
    /// operation checks before it mutates), so a poisoned lock is used as it is.
    pub(super) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) state: SignalingState,
    pub(super) shutdown: watch::Receiver<bool>,
    /// Each connection task holds a clone; [`serve`] waits until all are gone.
    pub(super) drain: mpsc::Sender<()>,
}
