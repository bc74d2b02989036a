//! Flood tools for tests/sip_flood.rs: a seeded INVITE mutator, a datagram pump that sends at a
//! rate and tallies what comes back, and a caller on another loopback source address.

pub mod mutate;
pub mod pump;
