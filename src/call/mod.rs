//! One call = one actor task ([`actor`]) that owns the SIP session, the phone-leg media and the
//! sans-IO call control ([`machine`]). RTP ports come from [`ports`].

pub mod actor;
pub mod machine;
pub mod ports;

pub use actor::{CallContext, CallRequest, MediaSettings};
