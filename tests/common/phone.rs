//! One phone caller: the SIP user agent plus the RTP endpoint, and the dial-in steps every test
//! repeats (call, wait for the welcome prompt, type the room ID and `#`, hear "joining").

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::rtp_phone::{EVENT_PT, RtpPhone};
use super::sip::{self, SipUa};

/// The caller's number; the bridge masks it as [`MASKED_NUMBER`] for the room.
pub const NUMBER: &str = "+493012345689";
pub const MASKED_NUMBER: &str = "+49 30 ••• 89";

pub struct Phone {
    pub sip: SipUa,
    pub rtp: RtpPhone,
    pub answered_at: Instant,
    /// The bridge's media address from its answer.
    pub media: SocketAddr,
}

impl Phone {
    /// Calls the bridge at `bridge` from `ip` (PCMU and telephone-event); returns when answered.
    pub fn call(ip: IpAddr, bridge: SocketAddr) -> Phone {
        let phone = Phone::call_through(ip, bridge);
        assert_eq!(
            phone.media.ip(),
            bridge.ip(),
            "the answer should carry media.public_address"
        );
        phone
    }

    /// Calls through a SIP proxy at `proxy` (which picks the bridge); the answer's media address
    /// says which bridge took the call.
    pub fn call_through(ip: IpAddr, proxy: SocketAddr) -> Phone {
        let rtp = RtpPhone::new(ip);
        let mut sip = SipUa::new(ip, proxy, NUMBER);
        let offer = format!(
            "v=0\r\no=phone 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
            port = rtp.local.port()
        );
        let answer = sip.invite("1000", &offer, Duration::from_secs(15));
        let remote = sip::sdp_audio_addr(&answer)
            .unwrap_or_else(|| panic!("no audio address in the answer:\n{answer}"));
        rtp.set_remote(remote);
        Phone {
            sip,
            rtp,
            answered_at: Instant::now(),
            media: remote,
        }
    }

    /// Types `room#` once the welcome prompt plays. The joining prompt follows; where the room
    /// is audible it runs into the room's sound, so only tests with silent rooms wait for it
    /// ([`RtpPhone::wait_prompt`]).
    pub fn enter_room(&mut self, room: &str) {
        self.rtp.wait_sound(Duration::from_secs(10));
        self.rtp.press(&format!("{room}#"));
        self.rtp.wait_keys_sent(Duration::from_secs(10));
    }
}
