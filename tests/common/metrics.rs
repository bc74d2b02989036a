//! Reads the bridge's `/metrics` (Prometheus text) over a plain HTTP/1.0 GET on a std
//! `TcpStream`, and waits for a metric to reach a value.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One scrape: sample name (with labels, as written) to value.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    /// The value of `name`, or a panic listing the dialbridge metrics that do exist.
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or_else(|| {
            let ours: Vec<&String> = self
                .0
                .keys()
                .filter(|k| k.starts_with("dialbridge_"))
                .collect();
            panic!("metric {name} missing from /metrics; dialbridge metrics present: {ours:?}")
        })
    }

    pub fn parse(text: &str) -> Metrics {
        let mut map = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // `name{labels} value [timestamp]`; label values may contain spaces.
            let split_at = line.rfind('}').map_or(0, |i| i + 1);
            let (head, tail) = line.split_at(split_at);
            let mut rest = tail.split_whitespace();
            let (name, value) = if head.is_empty() {
                (rest.next().unwrap_or_default().to_string(), rest.next())
            } else {
                (head.to_string(), rest.next())
            };
            if let Some(v) = value.and_then(|v| v.parse::<f64>().ok()) {
                map.insert(name, v);
            }
        }
        Metrics(map)
    }
}

/// `GET path` with HTTP/1.0 (the server closes the connection, so the body is all the rest).
/// Returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // One write: a server may read the request in one go.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// `GET path` with HTTP/1.1 on the tokio runtime, for tests whose server runs on the same
/// runtime: the whole raw response (head and body), read within `timeout`.
pub async fn http_get_async(addr: SocketAddr, path: &str, timeout: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    let mut out = String::new();
    tokio::time::timeout(timeout, s.read_to_string(&mut out))
        .await
        .unwrap_or_else(|_| panic!("GET {path} on {addr}: no response within {timeout:?}"))
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    out
}

/// The status code and body of an HTTP/1.0 response read to its end.
pub fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// Scrapes `/metrics` once, panicking with the reason when that fails.
pub fn scrape(signaling: SocketAddr) -> Metrics {
    match http_get(signaling, "/metrics") {
        Ok((200, body)) => Metrics::parse(&body),
        Ok((status, body)) => panic!("GET /metrics on {signaling}: HTTP {status}: {body}"),
        Err(e) => panic!("GET /metrics on {signaling}: {e}"),
    }
}

/// Polls `/metrics` every 100 ms until `name` satisfies `ok`; returns that scrape. Panics after
/// `timeout` naming the metric, what was wanted and the last value.
pub fn wait_for(
    signaling: SocketAddr,
    name: &str,
    wanted: &str,
    timeout: Duration,
    ok: impl Fn(f64) -> bool,
) -> Metrics {
    let deadline = Instant::now() + timeout;
    loop {
        let m = scrape(signaling);
        let v = m.get(name);
        if ok(v) {
            return m;
        }
        if Instant::now() >= deadline {
            panic!("{name} is {v}, wanted {wanted} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until no call and no media pipeline is left (after a hang-up).
pub fn wait_idle(signaling: SocketAddr, timeout: Duration) {
    wait_for(signaling, "dialbridge_calls_active", "0", timeout, |v| {
        v == 0.0
    });
    wait_for(
        signaling,
        "dialbridge_pipelines_active",
        "0",
        timeout,
        |v| v == 0.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_text() {
        let m = Metrics::parse(
            "# HELP dialbridge_calls_active Calls.\n# TYPE dialbridge_calls_active gauge\n\
             dialbridge_calls_active 2\nx{a=\"b c\"} 1.5 1700000000\n\nbroken\n",
        );
        assert_eq!(m.get("dialbridge_calls_active"), 2.0);
        assert_eq!(m.get("x{a=\"b c\"}"), 1.5);
        assert_eq!(m.0.len(), 2);
    }

    #[test]
    fn http_get_against_a_loopback_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client closed before the end of its request");
                req.extend_from_slice(&buf[..n]);
            }
            assert!(req.starts_with(b"GET /metrics HTTP/1.0\r\n"));
            s.write_all(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\ndialbridge_registered 1\n",
            )
            .unwrap();
        });
        assert_eq!(scrape(addr).get("dialbridge_registered"), 1.0);
        server.join().unwrap();
    }
}
