//! The one harness of the integration tests: they run the `dialbridge` binary and talk to it
//! with real programs (sipp, kamailio, baresip, Janus, Chromium) plus RTP endpoints and SIP user
//! agents owned by the test itself, on loopback or inside a network namespace made by the test.
//!
//! Every test binary says `mod common;` (the load bench includes it with `#[path]`) and uses a
//! subset, so unused items are allowed here, once for the whole tree. Each test gets a folder
//! under `target/tmp/` (see [`tools::test_dir`]) holding the bridge log, the peers' logs and the
//! generated files; failures print where it is.

#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod bridge;
pub mod bridge_config;
pub mod browser;
pub mod call;
pub mod dialog;
pub mod g711;
pub mod g722;
pub mod goertzel;
pub mod janus;
pub mod kamailio;
pub mod metrics;
pub mod netns;
pub mod nextcloud;
pub mod pcap;
pub mod phone;
pub mod phone_checks;
/// The load bench's /proc reader (RSS, threads, open files of the bridge).
#[path = "../../bench/harness/procstat.rs"]
pub mod procstat;
pub mod rtp;
pub mod rtp_endpoint;
pub mod rtp_packets;
pub mod rtp_phone;
pub mod rtp_send;
pub mod rtp_stats;
pub mod sdp;
pub mod setup;
pub mod sip;
pub mod sip_message;
pub mod sipp;
pub mod sipp_run;
pub mod sipraw;
pub mod spectrum;
pub mod threads;
pub mod tls;
pub mod tools;
