//! Nextcloud Talk for `tests/nextcloud.rs`: a stand-in Nextcloud ([`standin`]), a real
//! nextcloud-spreed-signaling ([`signaling`]) and Talk web users ([`web`]).

pub mod signaling;
pub mod standin;
pub mod web;
