//! Defences that span the SIP side and the built-in signaling server. [`guessing`] limits how
//! many wrong room IDs and PINs one caller number or source address may try.

pub mod guessing;
