//! A minimal reader for classic pcap files (not pcapng): Ethernet, Linux cooked (v1/v2), BSD
//! loopback and raw-IP link types, IPv4 UDP only. Enough to take the RFC 4733 DTMF packets out
//! of the captures sip-tester ships and replay them in our own RTP stream.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

/// One UDP datagram from a capture. `time` counts from the first packet of the file.
#[derive(Debug, Clone)]
pub struct UdpPacket {
    pub time: Duration,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// The fixed RTP header fields (RFC 3550) and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtp {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

impl Rtp {
    /// Parses an RTP packet; `None` for anything that is not RTP version 2 or is cut short.
    pub fn parse(data: &[u8]) -> Option<Rtp> {
        if data.len() < 12 || data[0] >> 6 != 2 {
            return None;
        }
        let csrc_count = usize::from(data[0] & 0x0F);
        let mut start = 12 + 4 * csrc_count;
        if data[0] & 0x10 != 0 {
            let ext = data.get(start..start + 4)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        let mut end = data.len();
        if data[0] & 0x20 != 0 {
            end = end.checked_sub(usize::from(*data.last()?))?;
        }
        Some(Rtp {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7F,
            seq: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            payload: data.get(start..end)?.to_vec(),
        })
    }

    /// Serialises with a plain 12-byte header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.payload.len());
        out.push(0x80);
        out.push(self.payload_type & 0x7F | if self.marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A running `tcpdump` writing `filter`'s packets on the loopback interface to a pcap file.
/// Killed on drop; [`Capture::stop`] flushes and returns the packets.
pub struct Capture {
    child: std::process::Child,
    pub path: std::path::PathBuf,
}

impl Capture {
    /// Starts capturing and returns once tcpdump says it listens (packets sent after that are
    /// in the file).
    pub fn start(dir: &Path, name: &str, filter: &str) -> Capture {
        use std::io::BufRead;
        let bin =
            super::tools::require_tool("tcpdump", "install tcpdump (scripts/install-deps.sh)");
        let path = dir.join(format!("{name}.pcap"));
        let mut child = std::process::Command::new(bin)
            .args(["-i", "lo", "-U", "-n", "-s", "0", "-w"])
            .arg(&path)
            .arg(filter)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting tcpdump");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("listening on") => break,
                Some(Ok(_)) => {}
                _ => panic!("tcpdump did not start listening on lo (needs root or CAP_NET_RAW)"),
            }
        }
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Capture { child, path }
    }

    /// Stops tcpdump (SIGTERM flushes the file) and reads the UDP packets.
    pub fn stop(mut self) -> Vec<UdpPacket> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = self.child.wait();
        read_udp(&self.path)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads every IPv4 UDP datagram of a classic pcap file. Panics with the reason on a file it
/// cannot read: the captures are test fixtures, not network input.
pub fn read_udp(path: &Path) -> Vec<UdpPacket> {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read pcap {}: {e}", path.display()));
    parse_udp(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn parse_udp(data: &[u8]) -> Result<Vec<UdpPacket>, String> {
    let header = data.get(..24).ok_or("shorter than a pcap header")?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let (big_endian, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => {
            return Err(format!(
                "not a classic pcap file (magic {magic:#010x}; pcapng?)"
            ));
        }
    };
    let u32_at = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    let link_type = u32_at(header, 20) & 0xFFFF;
    let mut out = Vec::new();
    let mut first: Option<Duration> = None;
    let mut off = 24;
    while off + 16 <= data.len() {
        let rec = &data[off..off + 16];
        let secs = u64::from(u32_at(rec, 0));
        let frac = u64::from(u32_at(rec, 4));
        let caplen = u32_at(rec, 8) as usize;
        off += 16;
        let frame = data
            .get(off..off + caplen)
            .ok_or("record runs past the end of the file")?;
        off += caplen;
        let at = Duration::from_secs(secs)
            + if nanos {
                Duration::from_nanos(frac)
            } else {
                Duration::from_micros(frac)
            };
        let start = *first.get_or_insert(at);
        if let Some(ip) = ip_payload(link_type, frame)
            && let Some((src, dst, payload)) = udp_in_ipv4(ip)
        {
            out.push(UdpPacket {
                time: at.saturating_sub(start),
                src,
                dst,
                payload,
            });
        }
    }
    Ok(out)
}

/// The IPv4 packet inside a link-layer frame, or `None` for other protocols.
fn ip_payload(link_type: u32, frame: &[u8]) -> Option<&[u8]> {
    const IPV4: u16 = 0x0800;
    let be16 = |i: usize| {
        frame
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    match link_type {
        // Ethernet, with one optional 802.1Q tag.
        1 => match be16(12)? {
            IPV4 => frame.get(14..),
            0x8100 if be16(16)? == IPV4 => frame.get(18..),
            _ => None,
        },
        // BSD loopback: a 4-byte address family in host order; 2 is AF_INET everywhere.
        0 => {
            let family = frame.get(..4)?;
            (family == [2, 0, 0, 0] || family == [0, 0, 0, 2])
                .then(|| frame.get(4..))
                .flatten()
        }
        // Raw IP (101 on the wire, 12 and 14 on some systems).
        101 | 12 | 14 => Some(frame),
        // Linux cooked capture v1: protocol at 14, header 16 bytes.
        113 => (be16(14)? == IPV4).then(|| frame.get(16..)).flatten(),
        // Linux cooked capture v2: protocol at 0, header 20 bytes.
        276 => (be16(0)? == IPV4).then(|| frame.get(20..)).flatten(),
        _ => None,
    }
}

fn udp_in_ipv4(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, Vec<u8>)> {
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
        return None;
    }
    // Fragments other than the first carry no UDP header; skip fragmented packets entirely.
    let flags_frag = u16::from_be_bytes([ip[6], ip[7]]);
    if flags_frag & 0x3FFF != 0 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = ip.get(ihl..total)?;
    let udp_len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let payload = udp.get(8..udp_len.min(udp.len()))?;
    Some((
        SocketAddrV4::new(src_ip, u16::from_be_bytes([udp[0], udp[1]])),
        SocketAddrV4::new(dst_ip, u16::from_be_bytes([udp[2], udp[3]])),
        payload.to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Ethernet/IPv4/UDP frame carrying `payload`, from 10.0.0.1:4000 to 10.0.0.2:5000.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let ulen = (8 + payload.len()) as u16;
        f.extend_from_slice(&[0x0f, 0xa0, 0x13, 0x88, (ulen >> 8) as u8, ulen as u8, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    fn pcap(frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        d.extend_from_slice(&2u16.to_le_bytes());
        d.extend_from_slice(&4u16.to_le_bytes());
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(&65535u32.to_le_bytes());
        d.extend_from_slice(&1u32.to_le_bytes());
        for (s, us, f) in frames {
            for v in [*s, *us, f.len() as u32, f.len() as u32] {
                d.extend_from_slice(&v.to_le_bytes());
            }
            d.extend_from_slice(f);
        }
        d
    }

    #[test]
    fn parses_ethernet_udp_and_relative_times() {
        let data = pcap(&[(100, 900_000, frame(b"one")), (101, 20_000, frame(b"two"))]);
        let pkts = parse_udp(&data).unwrap();
        assert_eq!(pkts.len(), 2);
        assert_eq!(pkts[0].payload, b"one");
        assert_eq!(pkts[1].time, Duration::from_millis(120));
        assert_eq!(pkts[0].dst, "10.0.0.2:5000".parse().unwrap());
    }

    #[test]
    fn rejects_pcapng_and_cut_files() {
        assert!(parse_udp(&[0x0a, 0x0d, 0x0d, 0x0a]).is_err());
        let mut data = pcap(&[(1, 0, frame(b"x"))]);
        data.truncate(data.len() - 2);
        assert!(parse_udp(&data).is_err());
    }

    #[test]
    fn rtp_round_trip() {
        let p = Rtp {
            marker: true,
            payload_type: 101,
            seq: 7,
            timestamp: 160,
            ssrc: 9,
            payload: vec![1, 2],
        };
        assert_eq!(Rtp::parse(&p.to_bytes()), Some(p));
        assert_eq!(Rtp::parse(&[0x40; 12]), None);
    }

    /// The captures sip-tester ships: 10 packets of telephone-event 101 each, the last three
    /// the end-of-event retransmissions.
    #[test]
    fn sip_tester_dtmf_capture() {
        let path = Path::new("/usr/share/sip-tester/dtmf_2833_1.pcap");
        assert!(
            path.exists(),
            "{} missing: install sip-tester (scripts/install-deps.sh)",
            path.display()
        );
        let pkts = read_udp(path);
        assert_eq!(pkts.len(), 10);
        let rtp: Vec<Rtp> = pkts
            .iter()
            .map(|p| Rtp::parse(&p.payload).unwrap())
            .collect();
        assert!(
            rtp.iter()
                .all(|r| r.payload_type == 101 && r.payload[0] == 1)
        );
        assert!(rtp[0].marker);
        assert!(rtp[9].payload[1] & 0x80 != 0, "last packet has the E bit");
    }
}
