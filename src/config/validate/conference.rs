//! The `[conference]`, builtin rooms and `[[routes]]` checks: numeric room IDs and PINs that
//! fit the IVR, no duplicates, WebSocket URLs, and the TLS files of the signaling server.

use std::collections::HashSet;

use super::Problems;
use super::shared::{ca_file, cert_pair, is_digits};
use crate::config::Config;

pub(super) fn rooms_and_routes(c: &Config, p: &mut Problems) {
    let i = &c.ivr;
    let mut ids = HashSet::new();
    for (n, room) in c.conference.builtin.rooms.iter().enumerate() {
        let f = format!("conference.builtin.rooms[{n}]");
        if !is_digits(&room.id) {
            p.add(
                format!("{f}.id"),
                format!(
                    "room ID {:?} must be digits only, since callers type it on the keypad",
                    room.id
                ),
            );
        } else {
            let len = room.id.len() as u32;
            if len < i.room_id_min_digits || len > i.room_id_max_digits {
                p.add(
                    format!("{f}.id"),
                    format!(
                        "room ID {} has {len} digits, but the IVR accepts {} to {} \
                         (ivr.room_id_min_digits/max_digits), so callers could not reach it",
                        room.id, i.room_id_min_digits, i.room_id_max_digits
                    ),
                );
            }
            if room
                .host_key
                .as_ref()
                .is_some_and(|k| k.chars().count() < 16)
            {
                p.add(
                    format!("{f}.host_key"),
                    "a host key needs at least 16 characters, or it can be guessed",
                );
            }
            if !ids.insert(room.id.as_str()) {
                p.add(
                    format!("{f}.id"),
                    format!("room ID {} is defined twice", room.id),
                );
            }
        }
        if let Some(pin) = &room.pin {
            if !is_digits(pin) {
                p.add(
                    format!("{f}.pin"),
                    "a PIN must be digits only, since callers type it on the keypad (leave the \
                     line out for a room without PIN)",
                );
            } else if pin.len() as u32 > i.pin_max_digits {
                p.add(
                    format!("{f}.pin"),
                    format!("the PIN has {} digits but callers can type at most {} (ivr.pin_max_digits)", pin.len(), i.pin_max_digits),
                );
            }
        }
    }
    let mut numbers = HashSet::new();
    for (n, route) in c.routes.iter().enumerate() {
        let f = format!("routes[{n}]");
        if route.number.trim().is_empty() {
            p.add(
                format!("{f}.number"),
                "a route needs the called number it applies to",
            );
        } else if !numbers.insert(route.number.as_str()) {
            p.add(
                format!("{f}.number"),
                format!(
                    "number {:?} has more than one route; only the first would ever be used",
                    route.number
                ),
            );
        }
        if let Some(room) = &route.room
            && !is_digits(room)
        {
            p.add(
                format!("{f}.room"),
                format!("room {room:?} must be a numeric room ID"),
            );
        }
    }
}

fn is_ws_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("ws://") || lower.starts_with("wss://")
}

pub(super) fn conference(c: &Config, p: &mut Problems) {
    ca_file("conference.ca_file", &c.conference.ca_file, p);
    let tls = &c.conference.builtin.tls;
    cert_pair("conference.builtin.tls", &tls.cert, &tls.key, p);
    if c.conference.backend == crate::config::ConferenceBackendKind::Nextcloud {
        return super::nextcloud::nextcloud(&c.conference.nextcloud, p);
    }
    if c.conference.backend == crate::config::ConferenceBackendKind::Janus {
        let url = &c.conference.janus.url;
        if url.trim().is_empty() {
            p.add(
                "conference.janus.url",
                "backend = \"janus\" needs the WebSocket address of Janus, e.g. \"ws://10.0.0.7:8188\"",
            );
        } else if !is_ws_url(url) {
            p.add(
                "conference.janus.url",
                format!("{url:?} is not a WebSocket URL; it starts with ws:// or wss://"),
            );
        }
        return; // the built-in server is not used
    }
    let b = &c.conference.builtin;
    if !b.serve && b.url.trim().is_empty() {
        p.add(
            "conference.builtin.url",
            "serve = false means the signaling server runs elsewhere, so its WebSocket URL is \
             needed, e.g. \"ws://10.0.0.5:8080/ws\"",
        );
    } else if !b.url.is_empty() && !is_ws_url(&b.url) {
        p.add(
            "conference.builtin.url",
            format!(
                "{:?} is not a WebSocket URL; it starts with ws:// or wss://",
                b.url
            ),
        );
    }
}

#[cfg(test)]
mod janus_tests {
    use crate::config::{ConferenceBackendKind, Config};

    #[test]
    fn janus_backend_needs_a_ws_url() {
        let mut c = Config::demo();
        c.conference.backend = ConferenceBackendKind::Janus;
        let problems = c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            problems.iter().any(|p| p.field == "conference.janus.url"),
            "{problems:?}"
        );
        c.conference.janus.url = "http://janus:8188".into();
        let problems = c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            problems.iter().any(|p| p.field == "conference.janus.url"),
            "{problems:?}"
        );
        c.conference.janus.url = "wss://janus.example:8989".into();
        assert_eq!(
            c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
            vec![]
        );
        c.conference.janus.url = "ws://127.0.0.1:8188".into();
        assert_eq!(
            c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
            vec![]
        );
    }
}
