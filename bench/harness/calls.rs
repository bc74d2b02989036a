//! A round of calls: rooms `first_room..` with one WebRTC peer each, a pump thread that ticks
//! every peer each 20 ms, and `room_size` callers per room who dial in, type the room and `#`,
//! then send a tone of their own (so the peer can tell when each caller is heard). Callers of
//! one bridge in one room hear each other in-process; each has one PeerConnection, to the peer.
//! [`Calls::hang_up`] ends the round.

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

/// The tone of the caller in `slot` of its room: 150 Hz apart (three Goertzel bins of a 20 ms
/// frame at 8 kHz), 400 to 3250 Hz for rooms of up to 20.
pub fn tone_hz(slot: usize) -> f64 {
    400.0 + 150.0 * slot as f64
}

/// Each caller's tone amplitude: the room's tones together stay below full scale at the peer.
pub fn tone_amplitude(room_size: usize) -> f64 {
    8000.0 / room_size.max(1) as f64
}

/// `calls` callers in rooms of `room_size`: full rooms, then one with the rest.
pub fn room_sizes(calls: usize, room_size: usize) -> Vec<usize> {
    (0..calls.div_ceil(room_size))
        .map(|n| room_size.min(calls - n * room_size))
        .collect()
}

/// One caller, after typing `#`.
pub struct Caller {
    /// Index of its room (and peer).
    pub room: usize,
    /// Its place in the room (which tone it sends).
    pub slot: usize,
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
    /// Starts a peer in each of the rooms `first_room..` that `count` callers fill `room_size`
    /// at a time, pumps them and `extra` (already started), dials in the callers and waits until
    /// every peer heard each of its callers and every `extra` peer heard something. Calls that
    /// fail are left out of `callers`.
    pub fn connect(
        rt: &tokio::runtime::Handle,
        bridge_sip: SocketAddr,
        ws: &str,
        first_room: usize,
        (count, room_size): (usize, usize),
        extra: &[Arc<Peer>],
    ) -> Result<Calls, String> {
        let room_size = room_size.max(1);
        let amplitude = tone_amplitude(room_size);
        let peers = room_sizes(count, room_size)
            .into_iter()
            .enumerate()
            .map(|(r, in_room)| {
                let tones = (0..in_room).map(tone_hz).collect();
                let room = (first_room + r).to_string();
                Peer::start(rt, ws.to_string(), room, tones, amplitude)
            })
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
                let room = (first_room + i / room_size).to_string();
                let tone = Source::Tone {
                    hz: tone_hz(i % room_size),
                    amplitude,
                };
                std::thread::spawn(move || dial_in(bridge_sip, room, tone))
            })
            .collect();
        for (i, dialer) in dialers.into_iter().enumerate() {
            let (room, slot) = (i / room_size, i % room_size);
            match dialer.join() {
                Ok((phone, invite_to_200, hash)) => calls.callers.push(Caller {
                    room,
                    slot,
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
                .all(|c| calls.peers[c.room].heard_tone(c.slot).is_some())
                && extra.iter().all(|p| p.first_heard().is_some())
        };
        while !all_heard(&calls) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(calls)
    }

    /// `(first caller of a room, its peer)` for every room; the other callers go silent, so
    /// that each room carries one caller's audio (for [`super::delay`]).
    pub fn pairs(&self) -> Vec<(&Phone, &Peer)> {
        for caller in self.callers.iter().filter(|c| c.slot > 0) {
            caller.phone.rtp.set_source(Source::Silence);
        }
        self.callers
            .iter()
            .filter(|c| c.slot == 0)
            .map(|c| (&c.phone, &*self.peers[c.room]))
            .collect()
    }

    /// Time from each caller's `#` to its audio reaching its peer, in ms (heard calls only).
    pub fn hash_to_audio_ms(&self) -> Vec<f64> {
        self.callers
            .iter()
            .filter_map(|c| {
                let heard = self.peers[c.room].heard_tone(c.slot)?;
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

/// One caller: call, type the room ID and `#`, `tone` on. Returns (INVITE->200, `#` instant).
fn dial_in(bridge: SocketAddr, room: String, tone: Source) -> (Phone, Duration, Instant) {
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
    phone.rtp.set_source(tone);
    (phone, invite, hash)
}

#[cfg(test)]
mod tests {
    use super::room_sizes;

    #[test]
    fn rooms_are_full_but_the_last() {
        assert_eq!(room_sizes(10, 5), [5, 5]);
        assert_eq!(room_sizes(7, 5), [5, 2]);
        assert_eq!(room_sizes(2, 1), [1, 1]);
        assert!(room_sizes(0, 5).is_empty());
    }
}
