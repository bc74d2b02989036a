//! Helpers for the real-peer integration tests: they run the `dialbridge` binary and talk to it
//! with real programs (sipp, kamailio) plus a small RTP endpoint owned by the test itself.
//!
//! Every test file says `mod common;` and uses a subset, so unused items are allowed here.
//! Each test gets a folder under `target/tmp/` (see [`tools::test_dir`]) holding the bridge log,
//! sipp's message and error logs and the generated files; failures print where it is.

#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod bridge;
pub mod call;
pub mod dialog;
pub mod g711;
pub mod g722;
pub mod kamailio;
pub mod metrics;
pub mod pcap;
/// The load bench's /proc reader (RSS, threads, open files of the bridge).
#[path = "../../bench/harness/procstat.rs"]
pub mod procstat;
pub mod rtp;
pub mod rtp_send;
pub mod sdp;
/// SIP message text from the browser/bench harness (parsing, 200 OK to a request).
#[path = "../e2e/sip_message.rs"]
pub mod sip_message;
pub mod sipp;
pub mod sipp_run;
pub mod sipraw;
pub mod tls;
pub mod tools;
