//! A real kamailio as the registrar/proxy of register mode: `tests/data/kamailio.cfg` with the
//! port filled in, checked with `kamailio -c`, run in the foreground (`-DD -E`) with a private
//! runtime folder (`-Y`), stopped with SIGTERM and restartable on the same port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::call::{Caller, PROMPT};
use super::sipraw::{self, Request, Response};
use super::tls::Issued;
use super::tools;

pub struct Kamailio {
    child: Option<Child>,
    pub port: u16,
    bin: PathBuf,
    cfg: PathBuf,
    /// `-A` defines for the config's preprocessor (`WITH_TLS`).
    defines: Vec<String>,
    dir: PathBuf,
    runs: u32,
    log: PathBuf,
}

impl Kamailio {
    /// Writes the config for `port` into `dir`, validates it and starts kamailio.
    pub fn start(dir: &Path, port: u16) -> Kamailio {
        Kamailio::start_with(dir, port, None)
    }

    /// Like [`start`](Self::start), with a TLS listener (kamailio's tls module) on `tls_port`
    /// serving `server` and trusting `ca` for the certificates of peers it connects to.
    pub fn start_tls(dir: &Path, port: u16, tls_port: u16, server: &Issued, ca: &Path) -> Kamailio {
        let tls_cfg = dir.join("kamailio-tls.cfg");
        let section = |role: &str, verify: &str| {
            format!(
                "[{role}:default]\nmethod = TLSv1.2+\nverify_certificate = {verify}\n\
                 require_certificate = {verify}\nprivate_key = {key}\ncertificate = {cert}\n\
                 ca_list = {ca}\n\n",
                key = server.key.display(),
                cert = server.cert.display(),
                ca = ca.display(),
            )
        };
        let text = section("server", "no") + &section("client", "yes");
        std::fs::write(&tls_cfg, text).expect("writing kamailio's tls config");
        Kamailio::start_with(dir, port, Some((tls_port, tls_cfg)))
    }

    fn start_with(dir: &Path, port: u16, tls: Option<(u16, PathBuf)>) -> Kamailio {
        let bin = tools::require_tool("kamailio", "install kamailio (scripts/install-deps.sh)");
        let template = super::sipp::data_dir().join("kamailio.cfg");
        let text = std::fs::read_to_string(&template)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", template.display()));
        let cfg = dir.join("kamailio.cfg");
        let mut text = text.replace("@PORT@", &port.to_string());
        let mut defines = Vec::new();
        if let Some((tls_port, tls_cfg)) = &tls {
            text = text
                .replace("@TLS_PORT@", &tls_port.to_string())
                .replace("@TLS_CFG@", &tls_cfg.display().to_string());
            defines.push("WITH_TLS".to_string());
        }
        std::fs::write(&cfg, text).expect("writing kamailio.cfg");
        let check = Command::new(&bin)
            .args(defines.iter().flat_map(|d| ["-A", d]))
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .expect("running kamailio -c");
        assert!(
            check.status.success(),
            "kamailio rejects {}:\n{}{}",
            cfg.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut k = Kamailio {
            child: None,
            port,
            bin,
            cfg,
            defines,
            dir: dir.to_path_buf(),
            runs: 0,
            log: PathBuf::new(),
        };
        k.run();
        k
    }

    pub fn addr(&self) -> SocketAddr {
        tools::loopback(self.port)
    }

    /// The registrar URI the bridge is configured with.
    pub fn uri(&self) -> String {
        format!("sip:127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        self.runs += 1;
        let runtime = self.dir.join(format!("kamailio-run-{}", self.runs));
        std::fs::create_dir_all(&runtime).expect("creating kamailio's runtime folder");
        self.log = self.dir.join(format!("kamailio-{}.log", self.runs));
        let log = std::fs::File::create(&self.log).expect("creating the kamailio log");
        let child = Command::new(&self.bin)
            .args(self.defines.iter().flat_map(|d| ["-A", d]))
            .args(["-DD", "-E", "-f"])
            .arg(&self.cfg)
            .arg("-Y")
            .arg(&runtime)
            .args(["-m", "32", "-M", "8"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning a file handle"))
            .stderr(log)
            .spawn()
            .expect("starting kamailio");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Polls with OPTIONS (answered 200 by the config) until kamailio is up, 10 s at most.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let udp = sipraw::Udp::new(self.addr());
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "kamailio exited at start ({status}):\n{}",
                    tools::tail(&self.log, 40)
                );
            }
            let mut options = Request::new("OPTIONS", self.addr(), udp.local(), "UDP");
            options.uri = self.uri();
            options.to_uri = self.uri();
            udp.send(options.build().as_bytes());
            let replies = udp.collect(Duration::from_millis(200), Duration::from_millis(300));
            if replies
                .iter()
                .filter_map(|r| Response::parse(r))
                .any(|r| r.status == 200)
            {
                return;
            }
        }
        panic!(
            "kamailio does not answer OPTIONS on {} within 10 s:\n{}",
            self.addr(),
            tools::tail(&self.log, 40)
        );
    }

    /// SIGTERM, then SIGKILL if it is still there after 5 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port, with an empty location table.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// sipp calls `account` through this kamailio, which routes to the registered contact: the
    /// bridge behind `signaling` answers with PCMU and the welcome prompt, the caller hangs up
    /// and the bridge is idle again.
    pub fn call_account(&self, dir: &Path, account: &str, signaling: SocketAddr) {
        let call = Caller::dial(dir, "uac_call.xml", self.addr(), &[0], |s| {
            s.service(account)
        });
        call.assert_answer(0, true);
        call.rtp.expect_prompt("welcome", PROMPT);
        call.hang_up();
        super::metrics::wait_idle(signaling, Duration::from_secs(5));
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- kamailio log {} (last 40 lines) ----\n{}",
                self.log.display(),
                tools::tail(&self.log, 40)
            );
        }
    }
}
