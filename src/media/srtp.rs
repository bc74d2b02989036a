//! SRTP for the phone leg through GStreamer's `srtpenc`/`srtpdec` (libsrtp2): no crypto of our
//! own. Each direction is one element in a pipeline of its own, fed through a Rust-owned pad and
//! read back through a Rust-owned sink pad, so protecting or unprotecting a packet is a
//! synchronous call on the leg's task (microseconds, no streaming thread).
//!
//! The phone task decrypts right after the socket, before its RTP checks, latching, reordering
//! and RFC 4733 decoding, which then see plain RTP; it encrypts each packet the send pipeline
//! made just before the socket. A packet that fails authentication (or replays an old one)
//! yields nothing: the caller counts it and drops it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::events::MediaError;
use super::gst::{init, start_stream};
use super::pipeline::ACTIVE_PIPELINES;
use crate::sip::sdes::{SrtpAgreement, SrtpKey, SrtpSuite};

/// Most SSRCs of the caller that get the key. A phone uses one (a new one after some
/// re-INVITEs); every new SSRC costs libsrtp a stream that lives as long as the leg, so a
/// stranger spraying SSRCs must not get more.
pub const MAX_SSRCS: usize = 8;

/// Both directions of one call's SRTP.
pub struct SrtpSession {
    agreement: SrtpAgreement,
    protect: SrtpProtect,
    unprotect: SrtpUnprotect,
}

impl SrtpSession {
    pub fn new(agreement: &SrtpAgreement) -> Result<SrtpSession, MediaError> {
        let (local, remote) = params(agreement);
        Ok(SrtpSession {
            agreement: agreement.clone(),
            protect: SrtpProtect::new(&local)?,
            unprotect: SrtpUnprotect::new(&remote)?,
        })
    }

    /// Takes a re-INVITE's keys: a direction whose key or suite changed starts afresh.
    pub fn update(&mut self, agreement: &SrtpAgreement) -> Result<(), MediaError> {
        let (local, remote) = params(agreement);
        let (old_local, old_remote) = params(&self.agreement);
        if local != old_local {
            self.protect = SrtpProtect::new(&local)?;
        }
        if remote != old_remote {
            self.unprotect = SrtpUnprotect::new(&remote)?;
        }
        self.agreement = agreement.clone();
        Ok(())
    }

    pub fn protect(&self, rtp: &[u8]) -> Option<Vec<u8>> {
        self.protect.protect(rtp)
    }

    pub fn unprotect(&self, srtp: &[u8]) -> Option<Vec<u8>> {
        self.unprotect.unprotect(srtp)
    }
}

/// Ours (to encrypt) and the caller's (to decrypt).
fn params(a: &SrtpAgreement) -> (SrtpParams, SrtpParams) {
    let with = |key: &SrtpKey| SrtpParams {
        suite: a.suite,
        key: key.clone(),
    };
    (with(&a.local_key), with(&a.remote_key))
}

/// The key and suite for one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpParams {
    pub suite: SrtpSuite,
    pub key: SrtpKey,
}

impl SrtpParams {
    /// GStreamer's names for the cipher and the authentication of this suite.
    fn cipher_and_auth(&self) -> (&'static str, &'static str) {
        match self.suite {
            SrtpSuite::AeadAes128Gcm => ("aes-128-gcm", "null"),
            SrtpSuite::AesCm128HmacSha1_80 => ("aes-128-icm", "hmac-sha1-80"),
            SrtpSuite::AesCm128HmacSha1_32 => ("aes-128-icm", "hmac-sha1-32"),
        }
    }
}

/// One SRTP element between two pads of ours; see the module docs.
struct Transform {
    pipeline: gst::Pipeline,
    feed: gst::Pad,
    /// Kept: a pad without a parent unlinks itself when its last reference goes.
    _collector: gst::Pad,
    output: Arc<Mutex<Vec<gst::Buffer>>>,
}

impl Transform {
    /// Puts `element` between a feed pad linked to `sink` and a collector linked to its
    /// source pad `src`; the feed announces caps `input` (a media type without fields).
    fn new(
        element: gst::Element,
        sink: Option<gst::Pad>,
        src: &str,
        input: &str,
    ) -> Result<Transform, MediaError> {
        let error = |reason: String| MediaError::Pipeline {
            file: element.name().to_string(),
            reason,
        };
        let sink = sink.ok_or_else(|| error("no RTP sink pad".into()))?;
        let pipeline = gst::Pipeline::new();
        pipeline
            .add(&element)
            .map_err(|e| error(format!("cannot add: {e}")))?;
        let output: Arc<Mutex<Vec<gst::Buffer>>> = Arc::default();
        let out = output.clone();
        let collector = gst::Pad::builder(gst::PadDirection::Sink)
            .chain_function(move |_, _, buffer| {
                out.lock().unwrap_or_else(|p| p.into_inner()).push(buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .event_function(|_, _, _| true)
            .build();
        collector
            .set_active(true)
            .map_err(|e| error(format!("cannot activate: {e}")))?;
        let src = element
            .static_pad(src)
            .ok_or_else(|| error(format!("no source pad {src}")))?;
        src.link(&collector)
            .map_err(|e| error(format!("cannot link the output: {e:?}")))?;
        let feed = gst::Pad::builder(gst::PadDirection::Src).build();
        feed.set_active(true)
            .map_err(|e| error(format!("cannot activate the feed: {e}")))?;
        feed.link(&sink)
            .map_err(|e| error(format!("cannot link the feed: {e:?}")))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| error(format!("cannot start: {e}")))?;
        ACTIVE_PIPELINES.fetch_add(1, Ordering::Relaxed);
        start_stream(&feed, "srtp", &gst::Caps::builder(input).build());
        Ok(Transform {
            pipeline,
            feed,
            _collector: collector,
            output,
        })
    }

    /// Runs one packet through the element; `None` when it dropped the packet.
    fn run(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let pushed = self.feed.push(gst::Buffer::from_slice(packet.to_vec()));
        let mut output = self.output.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = output.pop();
        output.clear();
        drop(output);
        if let Err(e) = pushed {
            tracing::trace!("SRTP element refused a packet: {e:?}");
            return None;
        }
        let map = buffer?.into_mapped_buffer_readable().ok()?;
        Some(map.as_slice().to_vec())
    }
}

impl Drop for Transform {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        ACTIVE_PIPELINES.fetch_sub(1, Ordering::Relaxed);
    }
}

fn make(factory: &str) -> Result<gst::Element, MediaError> {
    init()?;
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement {
            element: if factory == "srtpenc" {
                "srtpenc"
            } else {
                "srtpdec"
            },
            package: "gstreamer1.0-plugins-bad",
        })
}

/// Encrypts our RTP for the caller (srtpenc).
pub struct SrtpProtect {
    transform: Transform,
}

impl SrtpProtect {
    pub fn new(params: &SrtpParams) -> Result<SrtpProtect, MediaError> {
        let element = make("srtpenc")?;
        let (cipher, auth) = params.cipher_and_auth();
        element.set_property("key", gst::Buffer::from_slice(params.key.expose().to_vec()));
        for (name, value) in [
            ("rtp-cipher", cipher),
            ("rtp-auth", auth),
            ("rtcp-cipher", cipher),
            ("rtcp-auth", auth),
        ] {
            element.set_property_from_str(name, value);
        }
        let sink = element.request_pad_simple("rtp_sink_0");
        // srtpenc 1.22 numbers the source pad after the sink pad's requested name.
        let transform = Transform::new(element, sink, "rtp_src_0", "application/x-rtp")?;
        Ok(SrtpProtect { transform })
    }

    /// The SRTP packet for `rtp`; `None` when libsrtp refused it.
    pub fn protect(&self, rtp: &[u8]) -> Option<Vec<u8>> {
        self.transform.run(rtp)
    }
}

/// Decrypts and authenticates the caller's SRTP (srtpdec). The key is handed out for every
/// SSRC the caller uses (a phone may change SSRC after a re-INVITE).
pub struct SrtpUnprotect {
    transform: Transform,
    /// Packets refused: failed authentication, replays, or not SRTP at all.
    rejected: AtomicUsize,
}

impl SrtpUnprotect {
    pub fn new(params: &SrtpParams) -> Result<SrtpUnprotect, MediaError> {
        let element = make("srtpdec")?;
        let (cipher, auth) = params.cipher_and_auth();
        let key_caps = gst::Caps::builder("application/x-srtp")
            .field(
                "srtp-key",
                gst::Buffer::from_slice(params.key.expose().to_vec()),
            )
            .field("srtp-cipher", cipher)
            .field("srtp-auth", auth)
            .field("srtcp-cipher", cipher)
            .field("srtcp-auth", auth)
            .build();
        let ssrcs = Mutex::new(Vec::<u32>::new());
        element.connect("request-key", false, move |args| {
            let ssrc = args.get(1).and_then(|v| v.get::<u32>().ok())?;
            let mut ssrcs = ssrcs.lock().unwrap_or_else(|p| p.into_inner());
            if !ssrcs.contains(&ssrc) {
                if ssrcs.len() >= MAX_SSRCS {
                    tracing::debug!(ssrc, "SRTP key refused to one SSRC too many");
                    return None;
                }
                ssrcs.push(ssrc);
            }
            Some(key_caps.to_value())
        });
        let sink = element.static_pad("rtp_sink");
        let transform = Transform::new(element, sink, "rtp_src", "application/x-srtp")?;
        Ok(SrtpUnprotect {
            transform,
            rejected: AtomicUsize::new(0),
        })
    }

    /// The RTP packet inside `srtp`; `None` when it failed authentication or was a replay.
    pub fn unprotect(&self, srtp: &[u8]) -> Option<Vec<u8>> {
        let plain = self.transform.run(srtp);
        if plain.is_none() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        plain
    }

    /// Packets refused so far.
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdes::{LocalKeyMaterial, choose};

    fn params(suite: SrtpSuite, fill: u8) -> SrtpParams {
        let agreement = choose(
            [format!(
                "1 {} inline:{}",
                suite.name(),
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    vec![fill; suite.key_len()]
                )
            )
            .as_str()],
            &LocalKeyMaterial::from_bytes([0; 30]),
        )
        .expect("valid line");
        SrtpParams {
            suite,
            key: agreement.remote_key,
        }
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn every_suite_round_trips_and_rejects_tampering() {
        for suite in SrtpSuite::PREFERENCE {
            let enc = SrtpProtect::new(&params(suite, 3)).expect("srtpenc");
            let dec = SrtpUnprotect::new(&params(suite, 3)).expect("srtpdec");
            let wrong = SrtpUnprotect::new(&params(suite, 4)).expect("srtpdec");
            for seq in 1..5u16 {
                let plain = rtp(seq, &[0x55; 160]);
                let secret = enc.protect(&plain).expect("protected");
                assert_eq!(secret.len(), plain.len() + suite.tag_len(), "{suite}");
                assert_eq!(secret[..12], plain[..12], "the header stays readable");
                assert_ne!(secret[12..172], plain[12..], "{suite}: payload encrypted");
                let mut tampered = secret.clone();
                tampered[20] ^= 1;
                assert_eq!(dec.unprotect(&tampered), None, "{suite}: tampered");
                assert_eq!(wrong.unprotect(&secret), None, "{suite}: wrong key");
                assert_eq!(dec.unprotect(&secret), Some(plain), "{suite}");
                assert_eq!(dec.unprotect(&secret), None, "{suite}: replay");
            }
            assert_eq!(dec.unprotect(b"junk"), None);
            assert_eq!(dec.rejected(), 4 * 2 + 1);
        }
    }
}
