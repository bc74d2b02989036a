//! Janus helpers shared by `tests/janus.rs` and `tests/janus_sip.rs`: a Janus server of the
//! test's own, a participant on the bridge's conference backend, and tone phones.

pub mod participant;
pub mod server;
pub mod tone;
