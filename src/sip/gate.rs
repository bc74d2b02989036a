//! The gate a new INVITE passes after the rate limits: the trunk allow list, optional inbound
//! digest auth, the call cap, and the called-number route. Whatever it refuses is answered
//! statelessly by the entry layer; what it lets in becomes an [`Admitted`] call that holds its
//! call slot and its source's call until the call ends.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ezk_sip_core::IncomingRequest;
use ezk_sip_types::Name;
use ezk_sip_types::uri::SipUriUserPart;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::acl::AllowList;
use super::admission::SourceTicket;
use super::digest::{DigestVerifier, Verdict};
use super::sdes::SrtpPolicy;
use crate::config::{Config, SipMode};

/// An INVITE let in, with its routing decision and what it holds.
pub struct Admitted {
    pub invite: IncomingRequest,
    /// The called number is routed straight to this room (no room-ID prompt).
    pub direct_room: Option<String>,
    /// The called number (Request-URI user part) and the `[[routes]]` number it matched.
    pub called: String,
    pub route: Option<String>,
    pub language: String,
    /// The route's SRTP policy, else `media.srtp`.
    pub srtp: SrtpPolicy,
    /// One of the bridge's `limits.max_calls` slots, held until the call ends.
    pub permit: OwnedSemaphorePermit,
    /// The source's share of `limits.max_calls_per_source`, held until the call ends.
    pub ticket: SourceTicket,
}

/// Why the gate refused, with the answer and the metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// 403: the source is not in `sip.trunk.allow`.
    NotAllowed,
    /// 401 with this WWW-Authenticate challenge.
    Challenge(String),
    /// 503: every call slot is taken.
    Full,
}

pub struct Gate {
    acl: Option<AllowList>,
    digest: Option<DigestVerifier>,
    slots: Arc<Semaphore>,
    routes: Vec<crate::config::Route>,
    language: String,
    srtp: SrtpPolicy,
}

impl Gate {
    pub fn new(config: &Config, slots: Arc<Semaphore>) -> Self {
        let trunk = &config.sip.trunk;
        let trunk_mode = config.sip.mode == SipMode::Trunk;
        Gate {
            acl: trunk_mode.then(|| AllowList::new(trunk.allow.clone())),
            digest: (trunk_mode && !trunk.username.is_empty())
                .then(|| DigestVerifier::new(&trunk.realm, &trunk.username, &trunk.password)),
            slots,
            routes: config.routes.clone(),
            language: config.ivr.language.clone(),
            srtp: config.media.srtp,
        }
    }

    /// Lets `invite` in or says why not. The ticket comes from the rate limits before.
    pub fn admit(
        &self,
        invite: IncomingRequest,
        ticket: SourceTicket,
    ) -> Result<Admitted, (IncomingRequest, Refused)> {
        let source = invite.tp_info.source;
        if let Some(acl) = &self.acl
            && !acl.allows(source.ip())
        {
            // An allow-listed source that also authenticates is still refused: the list is the
            // admin's first line, digest the optional second.
            return Err((invite, Refused::NotAllowed));
        }
        if let Some(digest) = &self.digest {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let auth = invite
                .headers
                .get_raw(&Name::AUTHORIZATION)
                .next()
                .map(|v| v.to_string());
            let verdict = digest.verify(auth.as_deref(), "INVITE", now);
            if verdict != Verdict::Ok {
                let challenge = digest.challenge(now, verdict == Verdict::Stale);
                return Err((invite, Refused::Challenge(challenge)));
            }
        }
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            return Err((invite, Refused::Full));
        };
        let called = match &invite.line.uri.user_part {
            SipUriUserPart::User(user) => user.to_string(),
            SipUriUserPart::UserPw(up) => up.user.to_string(),
            SipUriUserPart::Empty => String::new(),
        };
        let route = self.routes.iter().find(|r| r.number == called);
        let language = route
            .and_then(|r| r.language.clone())
            .unwrap_or_else(|| self.language.clone());
        let direct_room = route.and_then(|r| r.room.clone());
        let srtp = route.and_then(|r| r.srtp).unwrap_or(self.srtp);
        tracing::debug!(%called, ?direct_room, %language, srtp = srtp.as_str(), "routing call");
        let route_number = route.map(|r| r.number.clone());
        Ok(Admitted {
            invite,
            direct_room,
            called,
            route: route_number,
            language,
            srtp,
            permit,
            ticket,
        })
    }
}
