//! The calls of this process that are in a room, by the ID the conference gave them, so that a
//! caller joining a room where another caller of this bridge already is can hear and be heard
//! in-process ([`ConferenceLeg::link_local`]) instead of over a PeerConnection.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use crate::media::conference_leg::ConferenceLeg;

static LEGS: LazyLock<Mutex<HashMap<String, Weak<ConferenceLeg>>>> = LazyLock::new(Mutex::default);

fn legs() -> std::sync::MutexGuard<'static, HashMap<String, Weak<ConferenceLeg>>> {
    LEGS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A call's entry; dropping it removes the entry.
pub struct Registration {
    id: String,
}

impl Registration {
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        legs().remove(&self.id);
    }
}

/// Enters `leg` as the room member `id` (an ID the conference made unique).
pub fn register(id: &str, leg: &Arc<ConferenceLeg>) -> Registration {
    legs().insert(id.to_string(), Arc::downgrade(leg));
    Registration { id: id.to_string() }
}

/// The leg of room member `id`, if it is a call of this process.
pub fn find(id: &str) -> Option<Arc<ConferenceLeg>> {
    legs().get(id).and_then(Weak::upgrade)
}
