//! A round of calls: one WebRTC peer in each room `first_room + i`, a pump thread that ticks
//! every peer each 20 ms, and a caller per room who dials in, types the room and `#`, then sends
//! a tone. [`Calls::hang_up`] ends the round.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::peer::Peer;
use crate::common::netns;
use crate::common::phone::Phone;
use crate::common::rtp_phone::Source;

/// How long all callers of a round may take to be heard in their rooms.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The RTP phone marks `#` done 5 packets after the key's first end packet.
const KEY_GAP: Duration = Duration::from_millis(100);

/// One caller, after typing `#`.
pub struct Caller {
    /// Index of its room (and peer).
    pub room: usize,
    pub phone: Phone,
    pub invite_to_200: Duration,
    /// When its `#` went out.
    pub hash: Instant,
}

pub struct Calls {
    pub peers: Vec<Arc<Peer>>,
    pub callers: Vec<Caller>,
    stop: Arc<AtomicBool>,
    pump: Option<JoinHandle<()>>,
}

impl Calls {
    /// Starts `count` peers in rooms `first_room..`, pumps them and `extra` (already started),
    /// dials in a caller per room and waits until every peer heard its caller and every `extra`
    /// peer heard something. Calls that fail are left out of `callers`.
    pub fn connect(
        rt: &tokio::runtime::Handle,
        bridge_sip: SocketAddr,
        ws: &str,
        first_room: usize,
        count: usize,
        extra: &[Arc<Peer>],
    ) -> Result<Calls, String> {
        let peers = (0..count)
            .map(|i| Peer::start(rt, ws.to_string(), (first_room + i).to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let pump = {
            let mut all = peers.clone();
            all.extend(extra.iter().cloned());
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    all.iter().for_each(|p| p.tick());
                    next += Duration::from_millis(20);
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
        };
        let mut calls = Calls {
            peers,
            callers: Vec::new(),
            stop,
            pump: Some(pump),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !calls.peers.iter().all(|p| *p.joined.borrow()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let dialers: Vec<_> = (0..count)
            .map(|i| {
                std::thread::sleep(Duration::from_millis(30));
                let room = (first_room + i).to_string();
                std::thread::spawn(move || dial_in(bridge_sip, room))
            })
            .collect();
        for (room, dialer) in dialers.into_iter().enumerate() {
            match dialer.join() {
                Ok((phone, invite_to_200, hash)) => calls.callers.push(Caller {
                    room,
                    phone,
                    invite_to_200,
                    hash,
                }),
                Err(_) => eprintln!(
                    "call into room {} failed (see the panic above)",
                    first_room + room
                ),
            }
        }
        let deadline = Instant::now() + JOIN_TIMEOUT;
        let all_heard = |calls: &Calls| {
            calls
                .callers
                .iter()
                .all(|c| calls.peers[c.room].first_heard().is_some())
                && extra.iter().all(|p| p.first_heard().is_some())
        };
        while !all_heard(&calls) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(calls)
    }

    /// `(caller, its room's peer)` for every caller.
    pub fn pairs(&self) -> Vec<(&Phone, &Peer)> {
        self.callers
            .iter()
            .map(|c| (&c.phone, &*self.peers[c.room]))
            .collect()
    }

    /// Time from each caller's `#` to its audio reaching its peer, in ms (heard calls only).
    pub fn hash_to_audio_ms(&self) -> Vec<f64> {
        self.callers
            .iter()
            .filter_map(|c| {
                let heard = self.peers[c.room].first_heard()?;
                Some(heard.saturating_duration_since(c.hash).as_secs_f64() * 1e3)
            })
            .collect()
    }

    /// Stops the pump, sends every caller's BYE and drops the peers (closing their signaling).
    pub fn hang_up(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
        for caller in &mut self.callers {
            let sip = &mut caller.phone.sip;
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sip.bye(Duration::from_secs(5))
            }));
        }
    }
}

impl Drop for Calls {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One caller: call, type the room ID and `#`, tone on. Returns (INVITE->200, `#` instant).
fn dial_in(bridge: SocketAddr, room: String) -> (Phone, Duration, Instant) {
    let ip = netns::ADDR_B.parse().expect("a literal address");
    let start = Instant::now();
    let phone = Phone::call(ip, bridge);
    let invite = start.elapsed();
    phone.rtp.wait_sound(Duration::from_secs(20));
    phone.rtp.press(&room);
    phone.rtp.wait_keys_sent(Duration::from_secs(20));
    phone.rtp.press("#");
    phone.rtp.wait_keys_sent(Duration::from_secs(20));
    let hash = Instant::now() - KEY_GAP;
    phone.rtp.set_source(Source::Tone {
        hz: 440.0,
        amplitude: 8000.0,
    });
    (phone, invite, hash)
}
