//! [`JanusBackend`]: callers join rooms of a Janus 1.x server, through its JSON API over
//! WebSocket (`ws://host:8188` or `wss://`, subprotocol `janus-protocol`), in one of two plugins:
//!
//! - [`JanusPlugin::VideoRoom`] (SFU): we publish our audio and subscribe to every other
//!   publisher's audio; the conference leg mixes (see `videoroom.rs`);
//! - [`JanusPlugin::AudioBridge`] (MCU): one PeerConnection, Janus mixes (see `audiobridge.rs`).
//!
//! Room IDs are Janus's numeric room IDs (`string_ids` rooms are not supported). Room lookups
//! and PIN checks each open a short-lived connection and session (see `access.rs` for how PINs
//! are found out and checked); a joined call has its own connection and session
//! (`session.rs`), kept alive every [`JanusOptions::keepalive`].
//!
//! `wss://` URLs are verified against the system's roots plus `conference.ca_file` (see `ws.rs`
//! one level up); there is no way to turn verification off.

mod access;
mod audiobridge;
mod client;
mod kinds;
mod machine;
mod protocol;
mod session;
mod videoroom;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

pub use audiobridge::MIXER;
pub use client::Credentials;
pub use kinds::{JanusError, JanusPlugin};
pub use videoroom::{PUBLISHER, feed_peer};

use super::{ConferenceBackend, ConferenceError, ConferenceSession, JoinRequest, RoomLookup};
use client::Client;

/// Default deadline of a lookup, a PIN check or a join (connecting included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default keepalive period: Janus's default session timeout is 60 s; stay well inside it.
pub const KEEPALIVE: Duration = Duration::from_secs(25);

/// How to reach Janus.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    /// `ws://host:port` or `wss://host:port` of the websockets transport.
    pub url: String,
    pub plugin: JanusPlugin,
    pub credentials: Credentials,
    /// Verifies a `wss://` Janus; `None`: the system's CA roots. Never switched off.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Deadline of a lookup, PIN check or join. Default [`REQUEST_TIMEOUT`].
    pub timeout: Duration,
    /// Keepalive period of a joined session; keep it under Janus's `session_timeout`.
    /// Default [`KEEPALIVE`].
    pub keepalive: Duration,
}

impl JanusOptions {
    pub fn new(url: impl Into<String>, plugin: JanusPlugin) -> JanusOptions {
        JanusOptions {
            url: url.into(),
            plugin,
            credentials: Credentials::default(),
            tls: None,
            timeout: REQUEST_TIMEOUT,
            keepalive: KEEPALIVE,
        }
    }

    /// How a `wss://` Janus's certificate is verified, e.g. [`crate::tls::client_config`] with
    /// a private CA.
    pub fn with_tls(mut self, tls: Arc<rustls::ClientConfig>) -> JanusOptions {
        self.tls = Some(tls);
        self
    }

    /// Sets the API secret and token; empty strings count as none.
    pub fn with_credentials(mut self, api_secret: &str, token: &str) -> JanusOptions {
        let set = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        self.credentials = Credentials {
            api_secret: set(api_secret),
            token: set(token),
        };
        self
    }
}

/// A client of one Janus server. `Send + Sync`: share it between all calls.
pub struct JanusBackend {
    options: JanusOptions,
}

/// The numeric Janus room ID a caller typed; `None` for what cannot be one.
fn room_number(room: &str) -> Option<u64> {
    if room.is_empty() || !room.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    room.parse().ok()
}

impl JanusBackend {
    pub fn new(options: JanusOptions) -> JanusBackend {
        JanusBackend { options }
    }

    pub fn options(&self) -> &JanusOptions {
        &self.options
    }

    async fn connect(&self) -> Result<Client, JanusError> {
        let o = &self.options;
        Client::connect(&o.url, o.credentials.clone(), o.tls.as_ref()).await
    }

    /// Sends one synchronous plugin request (`create`, `destroy`, `list`, `listparticipants`,
    /// `kick`, …) on a short-lived session and returns the plugin's data.
    pub async fn plugin_request(&self, body: Value) -> Result<Value, JanusError> {
        self.with_handle(|client, session, handle| {
            Box::pin(async move { Ok(client.message(session, handle, body, None).await?.data) })
        })
        .await
    }

    /// Connects, makes a session and a handle, runs `work`, then destroys the session.
    async fn with_handle<T>(
        &self,
        work: impl for<'a> FnOnce(
            &'a mut Client,
            u64,
            u64,
        ) -> futures_util::future::BoxFuture<'a, Result<T, JanusError>>,
    ) -> Result<T, JanusError> {
        let deadline = self.options.timeout;
        let mut session = None;
        let attempt = async {
            let mut client = self.connect().await?;
            let result = async {
                let id = client.create_session().await?;
                session = Some(id);
                let handle = client.attach(id, self.options.plugin.package()).await?;
                work(&mut client, id, handle).await
            }
            .await;
            Ok::<_, JanusError>((client, result))
        };
        let (client, result) = tokio::time::timeout(deadline, attempt)
            .await
            .map_err(|_| JanusError::Timeout(deadline))??;
        client.close(session, Duration::from_secs(1)).await;
        result
    }
}

#[async_trait]
impl ConferenceBackend for JanusBackend {
    async fn lookup_room(&self, room: &str) -> Result<RoomLookup, ConferenceError> {
        let Some(room) = room_number(room) else {
            return Ok(RoomLookup::NotFound);
        };
        let plugin = self.options.plugin;
        let found = self.with_handle(|client, session, handle| {
            Box::pin(access::lookup(client, session, handle, plugin, room))
        });
        Ok(found.await?)
    }

    async fn check_pin(&self, room: &str, pin: &str) -> Result<bool, ConferenceError> {
        let Some(room) = room_number(room) else {
            return Ok(false);
        };
        let plugin = self.options.plugin;
        let pin = pin.to_string();
        let checked = self.with_handle(|client, session, _| {
            Box::pin(async move { access::probe(client, session, plugin, room, &pin).await })
        });
        Ok(checked.await?)
    }

    async fn join(&self, request: JoinRequest) -> Result<ConferenceSession, ConferenceError> {
        let Some(room) = room_number(&request.room) else {
            let refusal = format!("{:?} is not a Janus room number", request.room);
            return Err(ConferenceError::Protocol(refusal));
        };
        let (deadline, plugin) = (self.options.timeout, self.options.plugin);
        let joining = async {
            let mut client = self.connect().await?;
            let session = client.create_session().await?;
            match access::join(&mut client, session, plugin, room, &request).await {
                Ok((machine, joined)) => Ok((client, machine, joined)),
                Err(e) => {
                    client.close(Some(session), Duration::from_secs(1)).await;
                    Err(e)
                }
            }
        };
        let joined = tokio::time::timeout(deadline, joining).await;
        let (client, machine, joined) = joined.map_err(|_| JanusError::Timeout(deadline))??;
        tracing::info!(room, ?plugin, "joined the Janus room");
        Ok(session::start(
            client,
            machine,
            joined,
            self.options.keepalive,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<JanusBackend>();
    }

    #[test]
    fn room_numbers_are_digits_only() {
        assert_eq!(room_number("1234"), Some(1234));
        assert_eq!(room_number(""), None);
        assert_eq!(room_number("+12"), None);
        assert_eq!(room_number("12a"), None);
        assert_eq!(room_number("99999999999999999999999"), None);
    }

    #[test]
    fn options_default_to_a_safe_keepalive() {
        let options = JanusOptions::new("ws://127.0.0.1:8188", JanusPlugin::VideoRoom)
            .with_credentials("s", "");
        assert!(options.keepalive <= Duration::from_secs(25));
        assert_eq!(
            options.credentials,
            Credentials {
                api_secret: Some("s".into()),
                token: None
            }
        );
    }

    #[test]
    fn errors_map_onto_the_backend_errors() {
        let e: ConferenceError = JanusError::Timeout(Duration::from_secs(1)).into();
        assert!(matches!(e, ConferenceError::Unreachable(_)));
        let e: ConferenceError = JanusError::Plugin {
            code: 433,
            reason: "Unauthorized (wrong pin)".into(),
        }
        .into();
        assert!(
            matches!(e, ConferenceError::Protocol(ref m) if m.contains("433")),
            "{e}"
        );
    }
}
