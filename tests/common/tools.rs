//! Small things every helper needs: a per-test folder, finding external programs (never skipping
//! silently when one is missing), free loopback ports, log tails and polling with a deadline.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// The folder of the running test: `target/tmp/dialbridge-it/<test binary>/<test fn>`, emptied
/// first. Named after the test thread (libtest names it after the test fn), so reruns overwrite
/// and a failing test's logs are easy to find.
pub fn test_dir() -> PathBuf {
    let thread = thread::current();
    let name = thread.name().unwrap_or("main").replace("::", "-");
    let binary = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .map(|s| {
            s.rsplit_once('-')
                .map(|(head, _hash)| head.to_string())
                .unwrap_or(s)
        })
        .unwrap_or_else(|| "tests".into());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dialbridge-it")
        .join(binary)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create test folder {}: {e}", dir.display()));
    dir
}

/// The absolute path of `prog` on PATH, or a panic saying how to install it. Tests never skip
/// because a tool is missing: a silently skipped test looks like a passing one.
pub fn require_tool(prog: &str, install_hint: &str) -> PathBuf {
    find_on_path(prog).unwrap_or_else(|| panic!("{prog} not found: {install_hint}"))
}

pub fn find_on_path(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    // kamailio lives in /usr/sbin, which is not on every user's PATH.
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(prog))
        .find(|p| p.is_file())
}

/// A loopback port that was free for both UDP and TCP a moment ago. Only for programs that
/// cannot bind port 0 and tell us the port (kamailio); there is a small race by nature.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a UDP port on loopback");
        let port = udp
            .local_addr()
            .expect("a bound socket has an address")
            .port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP after 50 tries");
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The last `lines` lines of a text file, or a note why there are none.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Polls `check` every `every` until it returns `Some`, or panics after `timeout` with `what`
/// and the last state `describe` gives.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; last state: {}",
                describe()
            );
        }
        thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let dir = test_dir();
        let f = dir.join("x.log");
        std::fs::write(&f, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&f, 2), "b\nc");
        assert!(tail(&dir.join("missing"), 2).contains("cannot read"));
    }

    #[test]
    fn free_port_is_bindable() {
        let p = free_port();
        UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).expect("the port should still be free");
    }
}
