//! The conference requests a call waits for (room lookup, PIN check, join), as futures the
//! call actor polls in its select loop, one at a time, each with a deadline.

use super::machine::CallInput;
use crate::conference::{
    ConferenceBackend, ConferenceError, ConferenceSession, JoinRequest, RoomLookup,
};
use crate::ivr::machine::{LookupOutcome, PinOutcome};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Longest a room lookup, PIN check or join may take before the caller hears "unreachable".
const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What a finished conference request brings back.
pub enum BackendReply {
    Input(CallInput),
    Joined(Result<ConferenceSession, ConferenceError>),
}

pub type BackendFuture = Pin<Box<dyn Future<Output = BackendReply> + Send>>;

pub fn lookup(backend: Arc<dyn ConferenceBackend>, room: String) -> BackendFuture {
    Box::pin(async move {
        let outcome = match tokio::time::timeout(BACKEND_TIMEOUT, backend.lookup_room(&room)).await
        {
            Ok(Ok(RoomLookup::Found { pin_required })) => LookupOutcome::Found { pin_required },
            Ok(Ok(RoomLookup::NotFound)) => LookupOutcome::NotFound,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, %room, "room lookup failed");
                LookupOutcome::Unreachable
            }
            Err(_) => {
                tracing::warn!(%room, "room lookup timed out");
                LookupOutcome::Unreachable
            }
        };
        BackendReply::Input(CallInput::Lookup(outcome))
    })
}

pub fn join(backend: Arc<dyn ConferenceBackend>, request: JoinRequest) -> BackendFuture {
    Box::pin(async move {
        let joined = tokio::time::timeout(BACKEND_TIMEOUT, backend.join(request))
            .await
            .unwrap_or_else(|_| Err(ConferenceError::Unreachable("join timed out".into())));
        BackendReply::Joined(joined)
    })
}

pub fn check_pin(backend: Arc<dyn ConferenceBackend>, room: String, pin: String) -> BackendFuture {
    Box::pin(async move {
        let outcome =
            match tokio::time::timeout(BACKEND_TIMEOUT, backend.check_pin(&room, &pin)).await {
                Ok(Ok(true)) => PinOutcome::Correct,
                Ok(Ok(false)) => PinOutcome::Wrong,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, %room, "PIN check failed");
                    PinOutcome::Unreachable
                }
                Err(_) => PinOutcome::Unreachable,
            };
        BackendReply::Input(CallInput::Pin(outcome))
    })
}

pub async fn poll_pending(pending: &mut Option<BackendFuture>) -> BackendReply {
    match pending {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
