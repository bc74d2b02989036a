//! RTP port allocation: one UDP socket per call from the configured range.

use std::net::{IpAddr, SocketAddr, UdpSocket};

#[derive(Debug, thiserror::Error)]
#[error("no free RTP port in {min}..={max} on {ip}")]
pub struct NoFreePort {
    pub ip: IpAddr,
    pub min: u16,
    pub max: u16,
}

/// Binds a UDP socket on an even port in `min..=max` (RTP convention; RTCP would be odd),
/// starting at a random place so concurrent calls rarely collide. `0/0` lets the OS choose.
pub fn bind_rtp(ip: IpAddr, min: u16, max: u16) -> Result<UdpSocket, NoFreePort> {
    if min == 0 && max == 0 {
        return UdpSocket::bind(SocketAddr::new(ip, 0)).map_err(|_| NoFreePort { ip, min, max });
    }
    let first = min + (min % 2);
    let slots = (max.saturating_sub(first)) / 2 + 1;
    let start = rand::random_range(0..slots);
    for i in 0..slots {
        let port = first + ((start + i) % slots) * 2;
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(ip, port)) {
            return Ok(socket);
        }
    }
    Err(NoFreePort { ip, min, max })
}

/// Binds the RTCP port that goes with `rtp` (its port + 1), where phones without RTCP
/// multiplexing send their reports. `None` when that port is taken (the reports are then lost,
/// nothing else).
pub fn bind_rtcp(rtp: SocketAddr) -> Option<UdpSocket> {
    let port = rtp.port().checked_add(1)?;
    UdpSocket::bind(SocketAddr::new(rtp.ip(), port)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_inside_the_range_on_even_ports() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let socket = bind_rtp(ip, 41000, 41100).unwrap();
        let port = socket.local_addr().unwrap().port();
        assert!(
            (41000..=41100).contains(&port) && port.is_multiple_of(2),
            "{port}"
        );
    }

    #[test]
    fn full_range_is_an_error() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Hold an even port, then ask for a range made of just that port.
        let held: Vec<UdpSocket> = (0..64).map(|_| bind_rtp(ip, 0, 0).unwrap()).collect();
        let port = held
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .find(|p| p % 2 == 0)
            .expect("64 OS-chosen ports include an even one");
        assert!(bind_rtp(ip, port, port).is_err());
    }
}
