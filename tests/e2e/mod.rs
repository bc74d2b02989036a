//! Helpers for `tests/browser_e2e.rs`, the end-to-end tests of the conference leg: a phone
//! (a small SIP user agent plus an RTP endpoint that sends tones and RFC 4733 key presses and
//! decodes what it hears), headless Chromium on the host page (driven through
//! `tests/browser/driver.js`), and the real `dialbridge` binary, all inside a network namespace
//! made by the test (see `tests/netns`).
//!
//! These are separate from `tests/common` (another engineer's SIP harness, which is loopback
//! only); from there only `g711.rs` and `audio.rs` are used, by `#[path]`.
#![allow(dead_code)]

pub mod bridge;
pub mod browser;
pub mod phone;
pub mod rtp;
pub mod rtp_packets;
pub mod rtp_stats;
pub mod setup;
pub mod sip;
pub mod sip_message;
pub mod spectrum;
pub mod threads;
pub mod tools;
