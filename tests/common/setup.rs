//! The setup every browser test repeats: its own network namespace (one test at a time),
//! the bridge on the namespace's first address, Chromium joined to the host page.

use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::bridge::{Backend, Bridge, Config};
use super::browser::Driver;
use super::netns;
use super::tools;

/// One namespace test at a time: each runs Chromium and the bridge on a 2-core machine, and the
/// timing checks should not depend on what another test does meanwhile.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn bridge_ip() -> IpAddr {
    netns::ADDR_A.parse().expect("a literal address")
}

pub fn phone_ip() -> IpAddr {
    netns::ADDR_B.parse().expect("a literal address")
}

/// `true` inside the test's own namespace (run the body); `false` in the parent, which re-ran
/// the test there and checked that it passed.
pub fn inside_netns(test: &str) -> bool {
    if std::env::var_os(netns::MARKER).is_some() {
        return netns::reexec_in_netns(test);
    }
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    netns::reexec_in_netns(test)
}

/// The bridge on the namespace's first address, taking calls from the second.
pub fn bridge_config() -> Config {
    Config::on(bridge_ip(), phone_ip())
}

pub fn start_bridge(dir: &Path, name: &str, signaling_url: Option<String>) -> Bridge {
    start_bridge_with(dir, name, signaling_url, String::new())
}

/// [`start_bridge`] with `extra_toml` appended to its config.
pub fn start_bridge_with(
    dir: &Path,
    name: &str,
    signaling_url: Option<String>,
    extra_toml: String,
) -> Bridge {
    let config = Config {
        backend: Backend::Builtin { url: signaling_url },
        extra_toml,
        ..bridge_config()
    };
    Bridge::start_named(dir, name, &config)
}

/// Launches Chromium `browser` with a fake microphone playing `tone` (None: silence), opens the
/// host page of `bridge` as `page` with `query`, presses Join. Returns (client_id, is_host).
pub fn join_page(
    driver: &mut Driver,
    dir: &Path,
    bridge: &Bridge,
    browser: &str,
    tone: Option<u32>,
    page: &str,
    query: &str,
) -> (u64, bool) {
    let wav = tools::fake_mic_wav(dir, tone);
    let version = driver.launch(browser, &wav, &bridge.origin());
    eprintln!(
        "browser {browser}: Chromium {version}, microphone {}",
        wav.display()
    );
    driver.open(page, browser, &format!("{}/?{query}", bridge.origin()));
    driver.join(page)
}

pub fn client_id(participant: &Value) -> u64 {
    participant["client_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no client_id in {participant}"))
}

/// Measures until `good` holds or `timeout` passes; returns the last measurement and whether
/// it was good. Measuring takes its own time, so this never busy-loops.
pub fn measure_until<T>(
    timeout: Duration,
    mut measure: impl FnMut() -> T,
    good: impl Fn(&T) -> bool,
) -> (T, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let m = measure();
        if good(&m) || Instant::now() >= deadline {
            let ok = good(&m);
            return (m, ok);
        }
    }
}
