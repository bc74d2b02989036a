//! Headless Chromium through `tests/browser/driver.js` (playwright-core): the test sends JSON
//! commands on the driver's stdin and reads one JSON reply per line from its stdout. Each
//! Chromium gets its own fake microphone (a WAV file), so two browsers can send two tones.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::tools::{self, APT_HINT, NPM_HINT};

/// Debian's Chromium (the DESIGN's checked browser).
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<Value>,
    early: HashMap<u64, Value>,
    next_id: u64,
    pub log: PathBuf,
}

/// What a page measured on its remote audio (see `pageSpectrum` in driver.js).
#[derive(Debug, Clone)]
pub struct PageSpectrum {
    pub dominant_hz: f64,
    pub peak_db: f64,
    pub floor_db: f64,
    pub rms: f64,
    /// (frequency, highest level within ±15 Hz).
    pub near: Vec<(f64, f64)>,
    pub raw: Value,
}

impl PageSpectrum {
    pub fn over_floor(&self, hz: f64) -> f64 {
        self.near
            .iter()
            .find(|(f, _)| (*f - hz).abs() < 0.5)
            .map_or(f64::MIN, |(_, db)| db - self.floor_db)
    }
}

impl Driver {
    /// Starts the driver; node, Chromium and the npm packages must be installed.
    pub fn start(dir: &Path) -> Driver {
        let node = tools::require_tool("node", "install Node.js (scripts/install-browser-deps.sh)");
        tools::require_tool(CHROMIUM, APT_HINT);
        let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        assert!(
            browser_dir
                .join("node_modules/playwright-core/package.json")
                .is_file(),
            "playwright-core is missing in {}: {NPM_HINT}",
            browser_dir.display()
        );
        let log = dir.join("driver.log");
        let stderr = std::fs::File::create(&log).expect("creating the driver log");
        let mut child = Command::new(node)
            .arg(browser_dir.join("driver.js"))
            .current_dir(&browser_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting node tests/browser/driver.js");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => drop(tx.send(v)),
                    Err(_) => eprintln!("driver: {line}"),
                }
            }
        });
        let stdin = child.stdin.take();
        Driver {
            child,
            stdin,
            replies,
            early: HashMap::new(),
            next_id: 1,
            log,
        }
    }

    /// Sends a command; returns its id for [`wait`](Self::wait).
    pub fn send(&mut self, mut cmd: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        cmd["id"] = json!(id);
        let stdin = self
            .stdin
            .as_mut()
            .expect("the driver's stdin is open until drop");
        let line = format!("{cmd}\n");
        if let Err(e) = stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush()) {
            panic!(
                "the browser driver is gone ({e}); its log:\n{}",
                tools::tail(&self.log, 40)
            );
        }
        id
    }

    /// The result of command `id`, or a panic with the driver's error and log.
    pub fn wait(&mut self, id: u64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let reply = loop {
            if let Some(v) = self.early.remove(&id) {
                break v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(v) => {
                    let rid = v["id"].as_u64().unwrap_or(0);
                    if rid == id {
                        break v;
                    }
                    if rid == 0 {
                        panic!("browser driver: {}", v["error"]);
                    }
                    self.early.insert(rid, v);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "browser command {id} gave no answer in {timeout:?}; driver log:\n{}",
                        tools::tail(&self.log, 40)
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    panic!(
                        "the browser driver exited ({status:?}); its log:\n{}",
                        tools::tail(&self.log, 40)
                    )
                }
            }
        };
        if reply["ok"].as_bool() != Some(true) {
            panic!(
                "browser command {id} failed: {}\ndriver log:\n{}",
                reply["error"].as_str().unwrap_or("?"),
                tools::tail(&self.log, 40)
            );
        }
        reply["result"].clone()
    }

    pub fn call(&mut self, cmd: Value, timeout: Duration) -> Value {
        let id = self.send(cmd);
        self.wait(id, timeout)
    }

    /// Starts Chromium `browser` whose microphone plays `wav`; `origin` (http://IP:PORT) is
    /// treated as secure so the page may use the microphone.
    pub fn launch(&mut self, browser: &str, wav: &Path, origin: &str) -> String {
        let r = self.call(
            json!({"cmd": "launch", "browser": browser, "wav": wav, "origin": origin}),
            Duration::from_secs(40),
        );
        r["version"].as_str().unwrap_or_default().to_string()
    }

    pub fn open(&mut self, page: &str, browser: &str, url: &str) {
        self.call(
            json!({"cmd": "open", "page": page, "browser": browser, "url": url}),
            Duration::from_secs(20),
        );
    }

    pub fn click(&mut self, page: &str, selector: &str) {
        self.call(
            json!({"cmd": "click", "page": page, "selector": selector}),
            Duration::from_secs(15),
        );
    }

    /// Evaluates a JavaScript expression in the page (a promise is awaited).
    pub fn eval(&mut self, page: &str, expr: &str) -> Value {
        self.call(
            json!({"cmd": "eval", "page": page, "expr": expr}),
            Duration::from_secs(15),
        )
    }

    /// Waits until the expression is truthy in the page (polled every 50 ms); returns its value.
    pub fn wait_for(&mut self, page: &str, expr: &str, timeout: Duration) -> Value {
        self.call(
            json!({"cmd": "wait", "page": page, "expr": expr, "timeout_ms": timeout.as_millis() as u64}),
            timeout + Duration::from_secs(5),
        )
    }

    pub fn screenshot(&mut self, page: &str, path: &Path) {
        self.call(
            json!({"cmd": "screenshot", "page": page, "path": path}),
            Duration::from_secs(15),
        );
    }

    /// The spectrum of what the page receives from `client_id` (all remote audio: `None`).
    pub fn spectrum(
        &mut self,
        page: &str,
        client_id: Option<u64>,
        ms: u64,
        freqs: &[f64],
    ) -> PageSpectrum {
        let raw = self.call(
            json!({"cmd": "spectrum", "page": page, "client_id": client_id, "ms": ms, "freqs": freqs}),
            Duration::from_millis(ms) + Duration::from_secs(10),
        );
        let num = |k: &str| raw[k].as_f64().unwrap_or(f64::NAN);
        let near = raw["near"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|n| {
                        (
                            n["hz"].as_f64().unwrap_or(0.0),
                            n["db"].as_f64().unwrap_or(f64::MIN),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        PageSpectrum {
            dominant_hz: num("dominant_hz"),
            peak_db: num("peak_db"),
            floor_db: num("floor_db"),
            rms: num("rms"),
            near,
            raw,
        }
    }

    /// Fills the join form (room and name come from the URL) by clicking Join, and waits until
    /// the page is in the room. Returns (client_id, is_host).
    pub fn join(&mut self, page: &str) -> (u64, bool) {
        self.click(page, "[data-testid=\"join-button\"]");
        let v = self.wait_for(
            page,
            "window.dialbridge && window.dialbridge.clientId !== null && \
             {client_id: window.dialbridge.clientId, host: window.dialbridge.isHost}",
            Duration::from_secs(15),
        );
        (
            v["client_id"].as_u64().expect("client_id is a number"),
            v["host"].as_bool().unwrap_or(false),
        )
    }

    /// Waits until the page lists a phone participant whose peer connection is `connected`;
    /// returns its participant object.
    pub fn wait_phone_connected(&mut self, page: &str, timeout: Duration) -> Value {
        self.wait_for(
            page,
            "window.dialbridge.participants().find(p => p.kind === 'phone' && p.peer_state === 'connected')",
            timeout,
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Closing stdin makes the driver close its browsers and exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
