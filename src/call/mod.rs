//! One call = one actor task ([`actor`]) that owns the SIP session, the phone-leg media and the
//! sans-IO call control ([`machine`]); `active.rs` is its running select loop,
//! `context.rs` what all calls share ([`CallContext`]). [`room`] links it
//! to the conference once joined, and `talk.rs` tells it when the caller talks. RTP ports come
//! from [`ports`]; [`guard`] counts wrong room IDs and PINs against the guessing limit;
//! `record.rs` scores both legs for the call record; `local_room.rs` lets callers of this
//! process in one room hear each other without WebRTC.

mod active;
pub mod actor;
mod backend;
mod context;
pub mod guard;
mod local_room;
pub mod machine;
pub mod ports;
mod record;
pub mod room;
mod talk;

pub use context::{CallContext, MediaSettings};
