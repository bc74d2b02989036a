//! [`NextcloudBackend`]: callers join Nextcloud Talk rooms through Talk's High Performance
//! Backend (spreed-signaling in front of Janus). Rooms are found by the numeric dial-in ID
//! through Talk's API (`talk.rs`); each call is an internal signaling client in the room that
//! shows the caller as a phone participant (a virtual session with the masked number) and
//! publishes its audio, and hears the others by subscribing to them (`machine.rs`).
//!
//! Secrets: the signaling server's internal secret (`[clients] internalsecret`) signs the
//! hello; Talk's SIP bridge secret signs the room lookups. `ws(s)://` and `https://` are
//! verified against the system's roots plus `conference.ca_file`.

pub mod auth;
mod http;
mod machine;
mod options;
mod protocol;
mod session;
mod talk;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use machine::PUBLISHER;
pub use options::NextcloudOptions;

use super::{ConferenceBackend, ConferenceError, ConferenceSession, JoinRequest, RoomLookup};
use http::BaseUrl;
use machine::Caller;
use talk::{Talk, TalkError};

/// Default deadline of a lookup, a PIN check or a join (connecting included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of one Nextcloud with its HPB. `Send + Sync`: share it between all calls.
pub struct NextcloudBackend {
    options: NextcloudOptions,
    talk: Talk,
}

impl From<TalkError> for ConferenceError {
    fn from(e: TalkError) -> ConferenceError {
        match e {
            TalkError::Unreachable(m) => ConferenceError::Unreachable(format!("Nextcloud: {m}")),
            TalkError::Protocol(m) => ConferenceError::Protocol(m),
        }
    }
}

/// A dial-in ID as callers type it; anything else names no room.
fn dial_in_id(room: &str) -> Option<&str> {
    (!room.is_empty() && room.len() <= 32 && room.bytes().all(|b| b.is_ascii_digit()))
        .then_some(room)
}

impl NextcloudBackend {
    /// Fails when the backend URL is not an `http(s)://` URL.
    pub fn new(options: NextcloudOptions) -> Result<NextcloudBackend, String> {
        let base = BaseUrl::parse(&options.backend_url)?;
        let talk = Talk::new(base, options.backend_secret.clone(), options.tls.clone());
        Ok(NextcloudBackend { options, talk })
    }

    /// The backend `[conference.nextcloud]` describes.
    pub fn from_config(
        n: &crate::config::NextcloudConfig,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<NextcloudBackend, String> {
        tracing::info!(url = %n.signaling_url, nextcloud = %n.backend_url, "rooms are Talk rooms");
        NextcloudBackend::new(NextcloudOptions {
            signaling_url: n.signaling_url.clone(),
            internal_secret: n.internal_secret.clone(),
            backend_url: n.backend_url.clone(),
            backend_secret: n.backend_secret.clone(),
            tls,
            timeout: REQUEST_TIMEOUT,
        })
    }

    async fn deadline<T>(
        &self,
        work: impl Future<Output = Result<T, ConferenceError>>,
    ) -> Result<T, ConferenceError> {
        let limit = self.options.timeout;
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ConferenceError::Unreachable(format!("no answer within {limit:?}")))?
    }
}

#[async_trait]
impl ConferenceBackend for NextcloudBackend {
    async fn lookup_room(&self, room: &str) -> Result<RoomLookup, ConferenceError> {
        let Some(id) = dial_in_id(room) else {
            return Ok(RoomLookup::NotFound);
        };
        let found = self
            .deadline(async { Ok(self.talk.room(id).await?) })
            .await?;
        Ok(match found {
            Some(room) => RoomLookup::Found {
                pin_required: room.pin_required,
            },
            None => RoomLookup::NotFound,
        })
    }

    async fn check_pin(&self, room: &str, pin: &str) -> Result<bool, ConferenceError> {
        let Some(id) = dial_in_id(room) else {
            return Ok(false);
        };
        self.deadline(async {
            match self.talk.room(id).await? {
                Some(room) if room.pin_required => Ok(self.talk.pin_ok(&room.token, pin).await?),
                Some(_) => Ok(true),
                None => Ok(false),
            }
        })
        .await
    }

    async fn join(&self, request: JoinRequest) -> Result<ConferenceSession, ConferenceError> {
        let Some(id) = dial_in_id(&request.room) else {
            let refusal = format!("{:?} is not a Talk dial-in ID", request.room);
            return Err(ConferenceError::Protocol(refusal));
        };
        let joining = async {
            let Some(room) = self.talk.room(id).await? else {
                return Err(ConferenceError::Protocol(format!("Talk room {id} is gone")));
            };
            let joined = session::join(&self.options, &room.token)
                .await
                .map_err(|e| ConferenceError::Unreachable(format!("spreed-signaling: {e}")))?;
            Ok((room, joined))
        };
        let (room, joined) = self.deadline(joining).await?;
        let number = request
            .caller
            .clone()
            .unwrap_or_else(|| request.display_name.clone());
        let caller = Caller {
            callid: format!("dialbridge-{:016x}", rand::random::<u64>()),
            number,
        };
        tracing::info!(room = %room.token, "joined the Talk room");
        Ok(session::start(joined, room.token, caller, room.has_call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<NextcloudBackend>();
    }

    #[test]
    fn dial_in_ids_are_digits_only() {
        assert_eq!(dial_in_id("12345"), Some("12345"));
        assert_eq!(dial_in_id(""), None);
        assert_eq!(dial_in_id("12a"), None);
        assert_eq!(dial_in_id("../1"), None);
    }

    #[test]
    fn options_never_show_secrets() {
        let options = NextcloudOptions {
            signaling_url: "ws://127.0.0.1:8080/spreed".into(),
            internal_secret: "hunter2".into(),
            backend_url: "http://127.0.0.1:9100/".into(),
            backend_secret: "hunter3".into(),
            tls: crate::tls::client_config(None).expect("the system roots load"),
            timeout: REQUEST_TIMEOUT,
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(NextcloudBackend::new(options).is_ok());
    }
}
