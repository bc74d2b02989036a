//! INVITEs between their arrival and their `InviteAcceptor`. ezk learns about an INVITE
//! transaction (and can match a CANCEL to it) only once the call task creates the acceptor; a
//! CANCEL sent right after the INVITE can arrive before that. Such a CANCEL is answered 200 by
//! the entry layer and remembered here, and the call then answers the INVITE with 487 instead
//! of 200. Keyed by the Via branch, which a CANCEL shares with its INVITE (RFC 3261 9.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bounded without a cap of its own: an entry exists only for an INVITE that passed admission
/// control, between the entry layer and its call task, so there are never more than
/// `limits.max_calls` plus the call queue's capacity.
#[derive(Clone, Default)]
pub struct EarlyInvites(Arc<Mutex<HashMap<String, bool>>>);

impl EarlyInvites {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, bool>> {
        // A panic elsewhere while holding this cannot leave the map inconsistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An INVITE arrived and is waiting for its call task.
    pub fn insert(&self, branch: &str) {
        self.lock().insert(branch.to_owned(), false);
    }

    /// A CANCEL arrived: `true` when it matches a waiting INVITE (now marked cancelled).
    pub fn cancel(&self, branch: &str) -> bool {
        self.lock()
            .get_mut(branch)
            .map(|cancelled| *cancelled = true)
            .is_some()
    }

    /// The INVITE has its acceptor (or was rejected): forget it. `true` if it was cancelled.
    pub fn finish(&self, branch: &str) -> bool {
        self.lock().remove(branch).unwrap_or(false)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_before_the_acceptor_is_remembered_once() {
        let early = EarlyInvites::default();
        early.insert("z9hG4bK1");
        assert!(!early.cancel("z9hG4bK2"), "unknown branch");
        assert!(early.cancel("z9hG4bK1"));
        assert!(early.finish("z9hG4bK1"));
        assert!(!early.finish("z9hG4bK1"), "finished INVITEs are forgotten");
        assert!(early.is_empty());
    }

    #[test]
    fn an_uncancelled_invite_finishes_clean() {
        let early = EarlyInvites::default();
        early.insert("b");
        assert!(!early.finish("b"));
        assert!(
            !early.cancel("b"),
            "too late: ezk's own CANCEL handling takes over"
        );
    }
}
