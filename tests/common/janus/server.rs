//! Janus (Debian package `janus`) as a child process of one test, inside the test's network
//! namespace: the configs in `tests/data/janus/` are filled in (a free port for the WebSocket on
//! loopback, ICE on the namespace's veth only) into a fresh folder, which also gets symlinks to
//! just the VideoRoom and AudioBridge plugins and the websockets transport. Its log goes to
//! `janus.log` there and is printed when a test fails (always with `SHOW_JANUS_LOG=1`).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Every request to the test Janus must carry this.
pub const API_SECRET: &str = "test-api-secret";
/// The `secret` of the rooms in the plugin configs (needed to kick, destroy …).
pub const ROOM_SECRET: &str = "adminpwd";

const PLUGINS: [&str; 2] = ["libjanus_videoroom.so", "libjanus_audiobridge.so"];
const TRANSPORTS: [&str; 1] = ["libjanus_websockets.so"];
static INSTANCE: AtomicUsize = AtomicUsize::new(0);

pub struct Janus {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    /// The secure WebSocket port, when started with a certificate.
    wss_port: Option<u16>,
}

/// A certificate and key (PEM) for Janus's secure WebSocket.
pub struct WssCert<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// Where Debian installs Janus's modules (`/usr/lib/<triplet>/janus`).
fn module_dir() -> PathBuf {
    let found = fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("janus"));
    found
        .into_iter()
        .find(|dir| dir.join("plugins").join(PLUGINS[0]).exists())
        .expect("Janus is installed (apt-get install janus)")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback is up");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

impl Janus {
    /// Configures and starts Janus; returns once its WebSocket port accepts connections.
    /// `session_timeout_s`: Janus drops sessions idle that long (keepalives count).
    pub fn start(iface: &str, session_timeout_s: u32) -> Janus {
        Janus::start_with(iface, session_timeout_s, None)
    }

    /// [`start`](Self::start), plus the API over `wss://` on a second loopback port with `wss`'s
    /// certificate ([`wss_url`](Self::wss_url)).
    pub fn start_with(iface: &str, session_timeout_s: u32, wss: Option<WssCert>) -> Janus {
        Janus::configure(iface, session_timeout_s, wss, true)
    }

    /// [`start`](Self::start) without an API secret: spreed-signaling's `[mcu]` sends none.
    pub fn start_without_api_secret(iface: &str, session_timeout_s: u32) -> Janus {
        Janus::configure(iface, session_timeout_s, None, false)
    }

    fn configure(
        iface: &str,
        session_timeout_s: u32,
        wss: Option<WssCert>,
        api_secret: bool,
    ) -> Janus {
        let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("dialbridge-janus-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temp dir is writable");
        let port = free_port();
        let wss_port = wss.as_ref().map(|_| free_port());
        let certificates = wss
            .map(|w| {
                format!(
                    "\tcert_pem = \"{}\"\n\tcert_key = \"{}\"",
                    w.cert.display(),
                    w.key.display()
                )
            })
            .unwrap_or_default();
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/janus");
        for entry in fs::read_dir(&templates)
            .expect("tests/data/janus exists")
            .flatten()
        {
            let text = fs::read_to_string(entry.path()).expect("config templates are text");
            let text: String = text
                .lines()
                .filter(|l| api_secret || !l.contains("{api_secret}"))
                .map(|l| format!("{l}\n"))
                .collect();
            let text = text
                .replace("{dir}", &dir.display().to_string())
                .replace("{ws_port}", &port.to_string())
                .replace("{iface}", iface)
                .replace("{api_secret}", API_SECRET)
                .replace("{session_timeout}", &session_timeout_s.to_string())
                .replace("{wss}", &wss_port.is_some().to_string())
                .replace("{wss_port}", &wss_port.unwrap_or(0).to_string())
                .replace("{certificates}", &certificates);
            fs::write(dir.join(entry.file_name()), text).expect("the temp dir is writable");
        }
        let modules = module_dir();
        for (folder, names) in [
            ("plugins", &PLUGINS[..]),
            ("transports", &TRANSPORTS[..]),
            ("events", &[]),
            ("loggers", &[]),
        ] {
            fs::create_dir_all(dir.join(folder)).expect("the temp dir is writable");
            for name in names {
                std::os::unix::fs::symlink(
                    modules.join(folder).join(name),
                    dir.join(folder).join(name),
                )
                .expect("symlinks can be made in the temp dir");
            }
        }
        let mut janus = Janus {
            child: None,
            dir,
            port,
            wss_port,
        };
        janus.spawn();
        janus
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new("janus")
            .arg("-C")
            .arg(self.dir.join("janus.jcfg"))
            .arg("-F")
            .arg(&self.dir)
            .arg("-o")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log file handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("janus is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        let ports = std::iter::once(self.port).chain(self.wss_port);
        let all_open = || {
            ports
                .clone()
                .all(|p| TcpStream::connect(("127.0.0.1", p)).is_ok())
        };
        while !all_open() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("Janus exited at start ({status}):\n{}", self.log_tail(60));
            }
            assert!(
                Instant::now() < deadline,
                "Janus did not open its WebSocket:\n{}",
                self.log_tail(60)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Janus process's ID while it runs (the load bench reads its CPU from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn wss_url(&self) -> String {
        let port = self.wss_port.expect("Janus was started with a certificate");
        format!("wss://127.0.0.1:{port}")
    }

    /// Stops Janus (SIGTERM, then SIGKILL after 3 s). Its exit status is not checked: Janus
    /// sometimes aborts while shutting down.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts Janus again after [`stop`](Self::stop), same port and configs.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("janus.log")
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!("---- Janus log (last lines) ----\n{}", self.log_tail(80));
        } else if std::env::var_os("SHOW_JANUS_LOG").is_some() {
            eprintln!("---- Janus log ----\n{}", self.log_tail(usize::MAX));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
