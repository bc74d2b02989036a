//! Sends datagrams at a steady rate from one UDP socket for a while and tallies the status
//! codes that come back (what a flooding source sees).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What a flood sent and got back.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: usize,
    pub responses: BTreeMap<u16, usize>,
    /// 503s that carried a Retry-After header.
    pub retry_after: usize,
}

impl Tally {
    pub fn count(&self, status: u16) -> usize {
        self.responses.get(&status).copied().unwrap_or(0)
    }
}

/// Sends `next()` to `to` from `socket` at `rate` per second until `duration` passed.
pub fn pump(
    socket: &UdpSocket,
    to: SocketAddr,
    rate: u32,
    duration: Duration,
    mut next: impl FnMut() -> Vec<u8>,
) -> Tally {
    socket
        .set_nonblocking(true)
        .expect("non-blocking mode on a UDP socket");
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 70_000];
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as usize;
        while tally.sent < due {
            // A full socket buffer only loses flood datagrams.
            let _ = socket.send_to(&next(), to);
            tally.sent += 1;
        }
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, _)) => note(&mut tally, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break, // ICMP errors from earlier sends
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    tally
}

fn note(tally: &mut Tally, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Some(status) = text
        .strip_prefix("SIP/2.0 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
    else {
        return;
    };
    *tally.responses.entry(status).or_default() += 1;
    if status == 503 && text.to_ascii_lowercase().contains("\r\nretry-after:") {
        tally.retry_after += 1;
    }
}
