//! The signaling side of the guessing limit: web clients that probe room IDs and PINs
//! (`lookup_room`, `check_pin`, `join`, `join_or_create`) have their wrong answers counted per
//! source address; a locked-out address gets the `locked` error for those requests until its
//! lockout ends. The bridge's own connection (authenticated with the bridge token or the
//! shared secret) is exempt: it asks on behalf of phone callers, who are limited on the SIP
//! side.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::protocol::{ClientMessage, ErrorCode, ServerMessage};
use super::rooms::Refusal;
use crate::config::GuessingConfig;
use crate::metrics;
use crate::security::guessing::{GuessLimiter, Key, Limits, Verdict};

const SIDE: &str = "web";

/// The limiter of web clients, shared by all connections.
pub struct WebGuessing {
    limiter: Mutex<GuessLimiter>,
}

impl WebGuessing {
    pub fn new(config: &GuessingConfig) -> WebGuessing {
        WebGuessing {
            limiter: Mutex::new(GuessLimiter::new(Limits::from(config))),
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, GuessLimiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `locked` refusal when `peer` is locked out; counts it.
    pub(super) fn refusal(&self, peer: IpAddr, now: Instant) -> Option<Refusal> {
        let remaining = self.limiter().check(&[Key::Source(peer)], now)?;
        metrics::GUESS_REFUSED.inc(SIDE);
        let secs = remaining.as_secs().max(1);
        Some((
            ErrorCode::Locked,
            format!("too many wrong room IDs or PINs from your address; try again in {secs} s"),
        ))
    }

    /// Counts the answer to a probing request when it says "no such room" or "wrong PIN".
    pub(super) fn observe(
        &self,
        peer: IpAddr,
        answer: &Result<Option<ServerMessage>, (Refusal, bool)>,
        now: Instant,
    ) {
        if !is_wrong_guess(answer) {
            return;
        }
        metrics::GUESS_WRONG.inc(SIDE);
        let verdict = self.limiter().record_wrong(&[Key::Source(peer)], now);
        if let Verdict::Locked {
            remaining,
            new_lockouts: 1..,
        } = verdict
        {
            metrics::GUESS_LOCKOUTS.inc(SIDE);
            tracing::info!(%peer, lockout_s = remaining.as_secs(), "web client locked out for guessing room IDs or PINs");
        }
    }
}

/// Requests whose answer tells whether a room ID or PIN is right. `join_or_create` without a
/// room only makes a fresh room, so a locked-out address may still do that.
pub(super) fn probes(message: &ClientMessage) -> bool {
    match message {
        ClientMessage::LookupRoom { .. }
        | ClientMessage::CheckPin { .. }
        | ClientMessage::Join { .. } => true,
        ClientMessage::JoinOrCreate { room, .. } => room.is_some(),
        _ => false,
    }
}

fn is_wrong_guess(answer: &Result<Option<ServerMessage>, (Refusal, bool)>) -> bool {
    match answer {
        Ok(Some(ServerMessage::RoomInfo { exists, .. })) => !exists,
        Ok(Some(ServerMessage::PinResult { ok, .. })) => !ok,
        Err(((code, _), _)) => matches!(code, ErrorCode::RoomNotFound | ErrorCode::WrongPin),
        Ok(_) => false,
    }
}
