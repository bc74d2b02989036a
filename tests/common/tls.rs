//! A certificate authority made by the test with the openssl CLI (Debian's `openssl`): a CA
//! certificate and leaf certificates for servers and clients, valid or already expired, all P-256
//! keys in PEM files. Real certificates, so the bridge, kamailio, baresip and `openssl s_client`
//! check them the way they check a provider's.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools;

/// A CA in its own folder: `ca.pem` (certificate) and `ca.key`, plus the bookkeeping files
/// `openssl ca` needs to sign with chosen validity dates.
pub struct TestCa {
    dir: PathBuf,
    /// The CA certificate: what a peer is told to trust.
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its key, signed by a [`TestCa`].
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How long a leaf certificate is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From now for this many days.
    Days(u32),
    /// Valid only in January 2020: expired.
    Expired,
}

impl TestCa {
    /// Makes a CA named `name` under `parent/name`.
    pub fn new(parent: &Path, name: &str) -> TestCa {
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).expect("creating the CA folder");
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        new_key(&key);
        openssl(
            Command::new(openssl_bin())
                .args(["req", "-x509", "-new", "-sha256", "-days", "30", "-key"])
                .arg(&key)
                .args(["-subj", &format!("/CN={name}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-out")
                .arg(&cert),
        );
        std::fs::write(dir.join("index.txt"), "").expect("writing the CA index");
        std::fs::write(dir.join("serial"), "1000\n").expect("writing the CA serial");
        let config = format!(
            "[ca]\ndefault_ca = test\n[test]\ndatabase = {index}\nnew_certs_dir = {dir}\n\
             serial = {serial}\ndefault_md = sha256\npolicy = any\nunique_subject = no\n\
             [any]\ncommonName = supplied\n",
            index = dir.join("index.txt").display(),
            dir = dir.display(),
            serial = dir.join("serial").display(),
        );
        std::fs::write(dir.join("ca.cnf"), config).expect("writing the CA config");
        TestCa { dir, cert, key }
    }

    /// A server certificate for `ip` (subjectAltName IP and DNS `localhost`), valid a month.
    pub fn server(&self, name: &str, ip: &str) -> Issued {
        self.issue(name, ip, Validity::Days(30))
    }

    /// A leaf certificate `name.pem`/`name.key` in the CA's folder, usable by a server (for
    /// `ip` and `localhost`) and by a client.
    pub fn issue(&self, name: &str, ip: &str, validity: Validity) -> Issued {
        let (cert, key) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        let csr = self.dir.join(format!("{name}.csr"));
        new_key(&key);
        openssl(
            Command::new(openssl_bin())
                .args(["req", "-new", "-key"])
                .arg(&key)
                .args(["-subj", &format!("/CN={name}")])
                .arg("-out")
                .arg(&csr),
        );
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "[leaf]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n\
                 extendedKeyUsage = serverAuth, clientAuth\n\
                 subjectAltName = IP:{ip}, DNS:localhost\n"
            ),
        )
        .expect("writing the extensions file");
        let dates: Vec<String> = match validity {
            Validity::Days(days) => vec!["-days".into(), days.to_string()],
            Validity::Expired => [
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200131000000Z",
            ]
            .map(String::from)
            .to_vec(),
        };
        openssl(
            Command::new(openssl_bin())
                .args(["ca", "-batch", "-notext", "-config"])
                .arg(self.dir.join("ca.cnf"))
                .arg("-cert")
                .arg(&self.cert)
                .arg("-keyfile")
                .arg(&self.key)
                .args(&dates)
                .arg("-extfile")
                .arg(&ext)
                .args(["-extensions", "leaf", "-in"])
                .arg(&csr)
                .arg("-out")
                .arg(&cert),
        );
        Issued { cert, key }
    }
}

/// Copies a certificate and key over the files a server was configured with (a renewal).
pub fn install(from: &Issued, to: &Issued) {
    std::fs::copy(&from.cert, &to.cert).expect("copying the certificate");
    std::fs::copy(&from.key, &to.key).expect("copying the key");
}

fn openssl_bin() -> PathBuf {
    tools::require_tool("openssl", "apt install openssl (scripts/install-deps.sh)")
}

fn new_key(path: &Path) {
    openssl(
        Command::new(openssl_bin())
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .arg("-out")
            .arg(path),
    );
}

fn openssl(cmd: &mut Command) {
    let out = cmd.output().expect("running openssl");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// socat carrying plain TCP from a loopback port to a TLS server, checking the server's
/// certificate against `ca` (and presenting a client certificate if given). Debian builds sipp
/// without TLS, so sipp reaches the bridge's TLS listener through this (`sipp -t t1`).
pub struct TlsRelay {
    child: std::process::Child,
    /// Where sipp connects with plain TCP.
    pub addr: std::net::SocketAddr,
}

impl TlsRelay {
    pub fn start(
        dir: &Path,
        server: std::net::SocketAddr,
        ca: &Path,
        client: Option<&Issued>,
    ) -> TlsRelay {
        use std::io::BufRead;
        let socat = tools::require_tool("socat", "apt install socat (scripts/install-deps.sh)");
        let port = tools::free_port();
        let mut target = format!("OPENSSL:{server},cafile={},verify=1", ca.display());
        if let Some(c) = client {
            target += &format!(",cert={},key={}", c.cert.display(), c.key.display());
        }
        let mut child = Command::new(socat)
            .args(["-d", "-d"])
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(target)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting socat");
        // socat says "listening on" once the port is bound; the rest of its log goes to a file.
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let log_path = dir.join(format!("socat-{port}.log"));
        let mut log = std::fs::File::create(&log_path).expect("creating the socat log");
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    use std::io::Write;
                    let _ = writeln!(log, "{line}");
                    if line.contains("listening on") {
                        break;
                    }
                }
                _ => panic!("socat ended before listening; log: {}", log_path.display()),
            }
        }
        std::thread::spawn(move || {
            use std::io::Write;
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        TlsRelay {
            child,
            addr: tools::loopback(port),
        }
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The subject of the certificate a TLS server presents, as `openssl s_client` prints it
/// (`CN = name`), checked against `ca`.
pub fn served_subject(server: std::net::SocketAddr, ca: &Path) -> String {
    let out = Command::new(openssl_bin())
        .args(["s_client", "-brief", "-verify_return_error", "-connect"])
        .arg(server.to_string())
        .arg("-CAfile")
        .arg(ca)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running openssl s_client");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Peer certificate: "))
        .unwrap_or_else(|| {
            panic!("openssl s_client to {server} showed no peer certificate:\n{text}")
        })
        .to_string()
}

/// `GET path` over HTTPS (HTTP/1.0), verifying the server against `ca` with the bridge's own
/// client settings. Returns the status code and body.
pub fn https_get(
    server: std::net::SocketAddr,
    path: &str,
    ca: &Path,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let config = dialbridge::tls::client_config(Some(ca)).map_err(std::io::Error::other)?;
    let name = rustls::pki_types::ServerName::IpAddress(server.ip().into());
    let connection = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let tcp = std::net::TcpStream::connect_timeout(&server, std::time::Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let request = format!("GET {path} HTTP/1.0\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        // A server that closes without TLS close_notify: what came before is the response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        other => {
            other?;
        }
    }
    super::metrics::parse_response(&raw)
}
