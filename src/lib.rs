//! # dialbridge
//!
//! A SIP-to-WebRTC dial-in bridge. Phone callers dial in, type a conference room ID (and PIN) on
//! the keypad, and join the room as an audio participant.
//!
//! # Layout
//!
//! `docs/architecture.md` follows one call through these modules: who owns what, the sans-IO
//! cores and their I/O shells, and a picture.
//!
//! - [`config`]: the one TOML configuration tree, its defaults and `validate()`.
//! - [`server`]: the supervisor that accepts calls, caps them and drains them on shutdown.
//! - [`drain`]: the sans-IO graceful drain (SIGTERM, `dialbridge drain`, `POST /admin/drain`)
//!   and its HTTP endpoints (`/readyz`, `/admin/drain`).
//! - [`call`]: one actor task per call; [`call::machine`] is the sans-IO call control.
//! - [`sip`]: the ezk SIP endpoint, registration, trunk access control, INVITE handling;
//!   [`sip::sdp`] negotiates codecs as a pure function, [`sip::sdes`] the SRTP keys.
//! - [`ivr`]: the sans-IO IVR that reads room ID and PIN; [`ivr::dtmf`] decodes RFC 4733,
//!   SIP INFO and in-band DTMF.
//! - [`media`]: GStreamer pipelines loaded from `pipelines/`, the phone leg, the prompts and the
//!   WebRTC conference leg ([`media::conference_leg`]).
//! - [`cdr`]: call detail records (one JSON line per call) and the E-model call quality in
//!   them.
//! - [`conference`]: the `ConferenceBackend` trait and its backends.
//! - [`signaling`]: the built-in room signaling server.
//! - [`tls`]: certificates from PEM files (checked, reloaded on SIGHUP) and rustls settings for
//!   SIP over TLS, wss:// and its clients.
//! - [`logging`]: tracing set-up, ezk's log records and panics counted and rate-limited.
//! - [`metrics`]: process-wide counters for `/metrics`.
//! - [`ratelog`]: at most one log line per interval per kind of bad network input.
//! - [`security`]: limits on guessing room IDs and PINs, shared by SIP and the signaling server.
//! - [`sdp_kind`]: offer or answer, shared by conference signaling and the conference leg.
//! - [`shutdown`]: the stop flag long-running tasks watch; depends on nothing else in the crate.

pub mod call;
pub mod cdr;
pub mod conference;
pub mod config;
pub mod drain;
pub mod ivr;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod ratelog;
pub mod sdp_kind;
pub mod security;
pub mod server;
pub mod shutdown;
pub mod signaling;
pub mod sip;
pub mod tls;
