//! A minimal HTTP/1.0 client for the few calls to Nextcloud: one request per connection
//! (`Connection: close`, so no chunked replies), `http://` or `https://` (verified with the
//! bridge's TLS rules), a size limit on the reply.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply accepted, in bytes (a room's JSON is a few KiB).
const MAX_REPLY_BYTES: usize = 256 * 1024;

/// A parsed base URL: scheme, host, port and path prefix (without trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl BaseUrl {
    /// `http[s]://host[:port][/path]`; an error in words otherwise.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("{url:?} is not an http:// or https:// URL"));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let port_at = match authority.rfind(']') {
            Some(end) => authority[end..].find(':').map(|i| end + i),
            None => authority.rfind(':'),
        };
        let (host, port) = match port_at {
            Some(i) => {
                let port = authority[i + 1..]
                    .parse()
                    .map_err(|_| format!("{url:?} has no valid port"))?;
                (&authority[..i], port)
            }
            None => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        Ok(BaseUrl {
            tls,
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
            path: path.trim_end_matches('/').into(),
        })
    }
}

/// A reply: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends `method path` (appended to the base path) with `headers` and `body`.
pub async fn request(
    base: &BaseUrl,
    tls: &Arc<ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Reply, String> {
    let tcp = TcpStream::connect((base.host.as_str(), base.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut head = format!(
        "{method} {}{path} HTTP/1.0\r\nHost: {}:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        base.path,
        if base.host.contains(':') {
            format!("[{}]", base.host)
        } else {
            base.host.clone()
        },
        base.port,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if !base.tls {
        return exchange(tcp, head, body).await;
    }
    let name =
        ServerName::try_from(base.host.clone()).map_err(|e| format!("bad host name: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    exchange(stream, head, body).await
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    head: String,
    body: &[u8],
) -> Result<Reply, String> {
    let io = |e: std::io::Error| format!("connection failed: {e}");
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    stream.write_all(body).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    let mut limited = (&mut stream).take(MAX_REPLY_BYTES as u64 + 1);
    limited.read_to_end(&mut raw).await.map_err(io)?;
    if raw.len() > MAX_REPLY_BYTES {
        return Err(format!("reply larger than {MAX_REPLY_BYTES} bytes"));
    }
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("reply without a complete header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| head.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP reply: {:?}", head.lines().next()))?;
    Ok(Reply {
        status,
        body: raw[end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_parse() {
        assert_eq!(
            BaseUrl::parse("https://cloud.example/nextcloud/").unwrap(),
            BaseUrl {
                tls: true,
                host: "cloud.example".into(),
                port: 443,
                path: "/nextcloud".into()
            }
        );
        let local = BaseUrl::parse("http://127.0.0.1:9100").unwrap();
        assert_eq!(
            (local.port, local.path.as_str(), local.tls),
            (9100, "", false)
        );
        let v6 = BaseUrl::parse("https://[::1]:8443/nc").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.path.as_str()),
            ("::1", 8443, "/nc")
        );
        assert_eq!(BaseUrl::parse("https://[::1]").unwrap().port, 443);
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("http://:80").is_err());
        assert!(BaseUrl::parse("http://h:notaport").is_err());
    }

    #[test]
    fn replies_parse_or_say_why_not() {
        let reply = parse_reply(b"HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n{}").unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 404,
                body: b"{}".to_vec()
            }
        );
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_reply(b"SSH-2.0\r\n\r\n").is_err());
    }
}
