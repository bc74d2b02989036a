use super::{StreamingListener, StreamingTransport};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::{TlsAcceptor, TlsStream};

/// A peer gets this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further TCP connections are closed at once.
const MAX_HANDSHAKES: usize = 256;

type Handshake = io::Result<(TlsStream<TcpStream>, SocketAddr)>;

/// Accepts TCP connections and runs their TLS handshakes side by side, each with a time limit,
/// so a peer that connects and never speaks cannot stall the listener for everyone else.
pub(super) struct TlsAcceptStream {
    acceptor: TlsAcceptor,
    listener: TcpListener,
    handshakes: JoinSet<Handshake>,
}

impl TlsAcceptStream {
    pub(super) fn new(acceptor: TlsAcceptor, listener: TcpListener) -> Self {
        Self {
            acceptor,
            listener,
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, remote: SocketAddr) {
        if self.handshakes.len() >= MAX_HANDSHAKES {
            log::warn!("Too many TLS handshakes in progress, dropping connection from {remote}");
            return;
        }
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => Ok((TlsStream::Server(stream), remote)),
                Ok(Err(e)) => Err(io::Error::new(
                    e.kind(),
                    format!("TLS handshake with {remote} failed: {e}"),
                )),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("TLS handshake with {remote} timed out"),
                )),
            }
        });
    }
}

#[async_trait::async_trait]
impl StreamingListener for TlsAcceptStream {
    type Transport = TlsStream<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Transport, SocketAddr)> {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, remote) = accepted?;
                    self.start_handshake(stream, remote);
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    return done.map_err(io::Error::other)?;
                }
            }
        }
    }
}

impl StreamingTransport for TlsStream<TcpStream> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().0.local_addr()
    }
}
