//! The one RTP endpoint shell of the tests: a UDP socket bound to any address (loopback or a
//! namespace's), a sender thread on a steady 20 ms tick and a receiver thread, stopped and
//! joined on drop. The receive state sits behind a condvar, so tests wait for events, not time.

use super::tools::lock;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One RTP packet's worth of audio: the send tick and the receiver's read timeout.
pub const PACKET: Duration = Duration::from_millis(20);

/// What both threads share: the send state `T` and the receive state `R`.
pub struct Shared<T, R> {
    stop: AtomicBool,
    tx: Mutex<T>,
    rx: Mutex<R>,
    rx_changed: Condvar,
}

impl<T, R> Shared<T, R> {
    pub fn tx(&self) -> MutexGuard<'_, T> {
        lock(&self.tx)
    }

    pub fn rx(&self) -> MutexGuard<'_, R> {
        lock(&self.rx)
    }
}

pub struct Endpoint<T, R> {
    pub local: SocketAddr,
    shared: Arc<Shared<T, R>>,
    threads: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static, R: Send + 'static> Endpoint<T, R> {
    /// Binds `ip:0` and starts the threads: `tick` runs every [`PACKET`] (after a stall of over
    /// 200 ms it skips the missed ticks instead of bursting); `on_datagram` gets each datagram
    /// with its source, or `None` after a quiet [`PACKET`], and the time; waiters wake after it.
    pub fn start(
        ip: IpAddr,
        tx: T,
        rx: R,
        mut tick: impl FnMut(&Shared<T, R>, &UdpSocket) + Send + 'static,
        mut on_datagram: impl FnMut(&Shared<T, R>, Option<(&[u8], SocketAddr)>, Instant)
        + Send
        + 'static,
    ) -> Endpoint<T, R> {
        let socket = UdpSocket::bind((ip, 0)).expect("binding an RTP socket");
        let local = socket.local_addr().expect("a bound socket has an address");
        socket
            .set_read_timeout(Some(PACKET))
            .expect("a non-zero read timeout is valid");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
            rx_changed: Condvar::new(),
        });
        let rx_socket = socket.try_clone().expect("cloning a UDP socket");
        let (s1, s2) = (shared.clone(), shared.clone());
        let send = move || {
            let mut next = Instant::now();
            while !s1.stop.load(Ordering::Relaxed) {
                next += PACKET;
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                } else if now - next > Duration::from_millis(200) {
                    next = now; // descheduled: don't burst to catch up
                }
                tick(&s1, &socket);
            }
        };
        let receive = move || {
            let mut buf = [0u8; 2048];
            while !s2.stop.load(Ordering::Relaxed) {
                let received = rx_socket.recv_from(&mut buf);
                let now = Instant::now();
                let datagram = received.ok().map(|(n, src)| (&buf[..n], src));
                on_datagram(&s2, datagram, now);
                s2.rx_changed.notify_all();
            }
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .expect("spawning a thread")
        };
        let threads = vec![
            spawn("rtp-tx", Box::new(send)),
            spawn("rtp-rx", Box::new(receive)),
        ];
        Endpoint {
            local,
            shared,
            threads,
        }
    }
}

impl<T, R> Endpoint<T, R> {
    pub fn tx(&self) -> MutexGuard<'_, T> {
        self.shared.tx()
    }

    pub fn rx(&self) -> MutexGuard<'_, R> {
        self.shared.rx()
    }

    /// Waits until `ready` finds what it wants in the receive state, woken by every datagram;
    /// after `timeout` panics with what `why` says about the state then.
    pub fn wait_rx<V>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&mut R) -> Option<V>,
        why: impl FnOnce(&R, Instant) -> String,
    ) -> V {
        let deadline = Instant::now() + timeout;
        let mut rx = self.rx();
        loop {
            if let Some(v) = ready(&mut rx) {
                return v;
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("{}", why(&rx, now));
            }
            rx = self
                .shared
                .rx_changed
                .wait_timeout(rx, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl<T, R> Drop for Endpoint<T, R> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
