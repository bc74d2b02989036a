//! SIP message text: parsing what the bridge sends (compact header names too), answering its
//! requests, and reading the audio address of an SDP.

use std::net::{IpAddr, SocketAddr};

/// A SIP message as received (start line, headers in order, body).
#[derive(Debug, Clone)]
pub struct SipMessage {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Full header names for the compact forms a peer may send.
fn full_name(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "v" => "Via",
        "f" => "From",
        "t" => "To",
        "i" => "Call-ID",
        "m" => "Contact",
        "l" => "Content-Length",
        "c" => "Content-Type",
        _ => name,
    }
}

impl SipMessage {
    pub fn parse(data: &[u8]) -> Option<SipMessage> {
        let text = String::from_utf8_lossy(data);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (full_name(k.trim()).to_string(), v.trim().to_string()))
            .collect();
        Some(SipMessage {
            start,
            headers,
            body: body.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        self.start.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            None
        } else {
            self.start.split(' ').next()
        }
    }

    pub fn cseq_method(&self) -> &str {
        self.header("CSeq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or_default()
    }

    /// The `<uri>` (or bare URI) of the Contact header.
    pub fn contact_uri(&self) -> Option<String> {
        let c = self.header("Contact")?;
        match (c.find('<'), c.find('>')) {
            (Some(a), Some(b)) if a < b => Some(c[a + 1..b].to_string()),
            _ => Some(c.split(';').next()?.trim().to_string()),
        }
    }

    /// A 200 OK to this request, echoing its Via, From, To, Call-ID and CSeq.
    pub fn ok_response(&self, body: Option<&str>) -> String {
        let mut s = String::from("SIP/2.0 200 OK\r\n");
        for via in self.all("Via") {
            s.push_str(&format!("Via: {via}\r\n"));
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = self.header(name) {
                s.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        match body {
            Some(b) => s.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => s.push_str("Content-Length: 0\r\n\r\n"),
        }
        s
    }
}

/// The RTP address of an SDP's audio stream (session or media `c=`, `m=audio` port).
pub fn sdp_audio_addr(sdp: &str) -> Option<SocketAddr> {
    let mut ip: Option<IpAddr> = None;
    let mut port = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=") {
            if let Some(a) = c
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.split('/').next()?.parse().ok())
            {
                ip = Some(a);
            }
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port = m.split_whitespace().next().and_then(|p| p.parse().ok());
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_messages_and_answers_requests() {
        let bye = SipMessage::parse(
            b"BYE sip:caller@10.99.0.2:5000 SIP/2.0\r\nv: SIP/2.0/UDP 10.99.0.1:5060;branch=z9hG4bKx\r\n\
              f: <sip:1000@10.99.0.1>;tag=a\r\nt: <sip:c@10.99.0.2>;tag=b\r\ni: id1\r\nCSeq: 7 BYE\r\nl: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(bye.method(), Some("BYE"));
        let ok = bye.ok_response(None);
        assert!(
            ok.starts_with("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.99.0.1:5060;branch=z9hG4bKx\r\n"),
            "{ok}"
        );
        assert!(ok.contains("CSeq: 7 BYE\r\n") && ok.contains("Call-ID: id1\r\n"));
        let r = SipMessage::parse(
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nm: <sip:b@10.99.0.1:5070>;x\r\n\r\nv=0",
        )
        .unwrap();
        assert_eq!(
            (r.status(), r.cseq_method(), r.method()),
            (Some(200), "INVITE", None)
        );
        assert_eq!(r.contact_uri().as_deref(), Some("sip:b@10.99.0.1:5070"));
        assert_eq!(r.body, "v=0");
    }

    #[test]
    fn audio_address_of_an_answer() {
        let sdp = "v=0\r\nc=IN IP4 10.99.0.1\r\nm=audio 40000 RTP/AVP 0 101\r\n";
        assert_eq!(
            sdp_audio_addr(sdp),
            Some("10.99.0.1:40000".parse().unwrap())
        );
        assert_eq!(sdp_audio_addr("v=0\r\n"), None);
    }
}
