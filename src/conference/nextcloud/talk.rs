//! The two questions the bridge asks Nextcloud Talk, signed as its SIP bridge (headers
//! `Talk-SipBridge-Random` and `Talk-SipBridge-Checksum` = HMAC(SIP bridge secret, random +
//! room token)): which room a dial-in ID names and whether it wants a PIN
//! (`GET …/room/{id}`), and whether a PIN is right (`POST …/room/{token}/verify-dialin`).

use std::sync::Arc;

use rustls::ClientConfig;
use serde_json::Value;

use super::auth;
use super::http::{self, BaseUrl};

/// Talk's OCS API for rooms.
const ROOM_API: &str = "/ocs/v2.php/apps/spreed/api/v4/room";
/// `sipEnabled` values: dial-in off, on with a PIN per attendee, on without PIN.
const SIP_DISABLED: u64 = 0;
const SIP_ENABLED: u64 = 1;

/// A room that callers may dial into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkRoom {
    /// The room token the signaling server knows the room by.
    pub token: String,
    pub pin_required: bool,
    /// Someone is in the conversation's call already (Talk's `hasCall`).
    pub has_call: bool,
}

/// Nextcloud's answer to a question the bridge asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TalkError {
    Unreachable(String),
    Protocol(String),
}

pub struct Talk {
    base: BaseUrl,
    secret: String,
    tls: Arc<ClientConfig>,
}

impl Talk {
    pub fn new(base: BaseUrl, secret: String, tls: Arc<ClientConfig>) -> Talk {
        Talk { base, secret, tls }
    }

    fn headers(&self, token: &str) -> Vec<(&'static str, String)> {
        let random = auth::random();
        let checksum = auth::sign(&self.secret, format!("{random}{token}").as_bytes());
        vec![
            ("OCS-APIRequest", "true".into()),
            ("Accept", "application/json".into()),
            ("Content-Type", "application/json".into()),
            ("Talk-SipBridge-Random", random),
            ("Talk-SipBridge-Checksum", checksum),
        ]
    }

    /// The room with dial-in ID `id`; `None` when there is none or dial-in is off.
    pub async fn room(&self, id: &str) -> Result<Option<TalkRoom>, TalkError> {
        let path = format!("{ROOM_API}/{id}");
        let reply = http::request(&self.base, &self.tls, "GET", &path, &self.headers(id), b"")
            .await
            .map_err(TalkError::Unreachable)?;
        match reply.status {
            200 => room_of(&reply.body, id),
            404 => Ok(None),
            status => Err(refused(status, "room lookup")),
        }
    }

    /// Whether `pin` lets a caller into the room with `token`.
    pub async fn pin_ok(&self, token: &str, pin: &str) -> Result<bool, TalkError> {
        let path = format!("{ROOM_API}/{token}/verify-dialin");
        let body = serde_json::json!({ "pin": pin }).to_string();
        let headers = self.headers(token);
        let reply = http::request(
            &self.base,
            &self.tls,
            "POST",
            &path,
            &headers,
            body.as_bytes(),
        )
        .await
        .map_err(TalkError::Unreachable)?;
        match reply.status {
            200 => Ok(true),
            403 | 404 => Ok(false),
            status => Err(refused(status, "PIN check")),
        }
    }
}

fn refused(status: u16, what: &str) -> TalkError {
    let hint = match status {
        401 => " (the SIP bridge secret does not match Talk's)",
        501 => " (SIP dial-in is not configured in Talk)",
        _ => "",
    };
    TalkError::Protocol(format!(
        "Nextcloud answered the {what} with HTTP {status}{hint}"
    ))
}

/// The room in an OCS reply `{"ocs":{"meta":…,"data":{"token":…,"sipEnabled":…}}}`.
fn room_of(body: &[u8], id: &str) -> Result<Option<TalkRoom>, TalkError> {
    let reply: Value = serde_json::from_slice(body)
        .map_err(|e| TalkError::Protocol(format!("Nextcloud's room reply is not JSON: {e}")))?;
    let data = &reply["ocs"]["data"];
    let sip = data
        .get("sipEnabled")
        .and_then(Value::as_u64)
        .unwrap_or(SIP_DISABLED);
    if sip == SIP_DISABLED {
        return Ok(None);
    }
    let token = data.get("token").and_then(Value::as_str).unwrap_or(id);
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TalkError::Protocol(format!(
            "Nextcloud sent an odd room token {token:?}"
        )));
    }
    Ok(Some(TalkRoom {
        token: token.into(),
        pin_required: sip == SIP_ENABLED,
        has_call: data
            .get("hasCall")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_follow_their_sip_setting() {
        let reply =
            |data: Value| serde_json::json!({"ocs": {"meta": {}, "data": data}}).to_string();
        let with_pin =
            reply(serde_json::json!({"token": "abc123", "sipEnabled": 1, "hasCall": true}));
        assert_eq!(
            room_of(with_pin.as_bytes(), "123"),
            Ok(Some(TalkRoom {
                token: "abc123".into(),
                pin_required: true,
                has_call: true,
            }))
        );
        let open = reply(serde_json::json!({"sipEnabled": 2}));
        assert_eq!(
            room_of(open.as_bytes(), "123"),
            Ok(Some(TalkRoom {
                token: "123".into(),
                pin_required: false,
                has_call: false,
            }))
        );
        let off = reply(serde_json::json!({"token": "abc", "sipEnabled": 0}));
        assert_eq!(room_of(off.as_bytes(), "123"), Ok(None));
        let odd = reply(serde_json::json!({"token": "../x", "sipEnabled": 2}));
        assert!(room_of(odd.as_bytes(), "123").is_err());
        assert!(room_of(b"<html>", "123").is_err());
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let TalkError::Protocol(m) = refused(401, "room lookup") else {
            panic!()
        };
        assert!(m.contains("secret"), "{m}");
    }
}
