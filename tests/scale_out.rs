//! Scale-out behind Kamailio's dispatcher, with the configuration admins get
//! (`deploy/kamailio/kamailio.cfg`, unchanged; docs/scale-out.md): two bridges, each in a
//! network namespace of its own, share one built-in room server; Kamailio and the callers sit in
//! the test's namespace. Shown, one phase after the other:
//! 1. calls spread over both bridges (fewest calls first);
//! 2. one bridge killed: the calls placed right after all get through, on the other one, and
//!    Kamailio marks it down within its probing interval; only the killed bridge's call is lost;
//! 3. restarted, it is back in rotation after a probe;
//! 4. one bridge drained (SIGTERM): it answers the probes 503, so new calls land on the other;
//!    its own call goes on until the caller hangs up, and then it exits 0.
//!
//! Which bridge took a call is read from its SDP answer (each bridge's media address).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::bridge::Bridge;
use common::bridge_config::{Backend, Config};
use common::netns;
use common::phone::Phone;
use common::tools;

/// How often Kamailio probes each bridge (`PING_INTERVAL`).
const PROBE_S: u64 = 1;
/// How long a silent bridge may keep an INVITE before Kamailio tries the other.
const INVITE_TIMEOUT_MS: u64 = 1000;
/// Kamailio's SIP port, free in the test's own namespace.
const PROXY_PORT: u16 = 5060;
/// The bridges' SIP port, fixed so a restarted bridge is at the address the list names.
const BRIDGE_PORT: u16 = 5070;
const ANSWER: Duration = Duration::from_secs(15);

/// Kamailio with the deploy config, killed on drop.
struct Kamailio {
    child: Child,
    log: PathBuf,
}

impl Kamailio {
    fn start(dir: &Path, listen: SocketAddr, bridges: &[SocketAddr]) -> Kamailio {
        let bin = tools::require_tool("kamailio", "install kamailio (scripts/install-deps.sh)");
        let list = dir.join("dispatcher.list");
        let entries: String = bridges
            .iter()
            .enumerate()
            .map(|(i, b)| format!("1 sip:{b} 0 0 duid=bridge-{i};maxload=50\n"))
            .collect();
        std::fs::write(&list, entries).expect("write dispatcher.list");
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kamailio/kamailio.cfg");
        let runtime = dir.join("kamailio-run");
        std::fs::create_dir_all(&runtime).expect("create kamailio's runtime folder");
        let log = dir.join("kamailio.log");
        let out = std::fs::File::create(&log).expect("create the kamailio log");
        let child = Command::new(bin)
            .arg("-A")
            .arg(format!("LISTEN=udp:{listen}"))
            .arg("-A")
            .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
            .arg("-A")
            .arg(format!("PING_INTERVAL={PROBE_S}"))
            .arg("-A")
            .arg(format!("INVITE_TIMEOUT_MS={INVITE_TIMEOUT_MS}"))
            .args(["-DD", "-E", "-f"])
            .arg(&cfg)
            .arg("-Y")
            .arg(&runtime)
            .args(["-m", "32", "-M", "8"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone a file handle"))
            .stderr(out)
            .spawn()
            .expect("start kamailio");
        let kamailio = Kamailio { child, log };
        kamailio.wait_log("INFO: <core> [main.c", Duration::from_secs(10));
        kamailio
    }

    /// Waits until the log holds `needle` (kamailio logs each probe verdict as it happens).
    fn wait_log(&self, needle: &str, timeout: Duration) {
        self.wait_log_any(&[needle], timeout);
    }

    fn wait_log_any(&self, needles: &[&str], timeout: Duration) {
        tools::poll(
            &format!("one of {needles:?} in {}", self.log.display()),
            timeout,
            Duration::from_millis(50),
            || {
                std::fs::read_to_string(&self.log)
                    .ok()
                    .filter(|text| needles.iter().any(|n| text.contains(n)))
                    .map(|_| ())
            },
            || tools::tail(&self.log, 30),
        );
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bridge `name` in namespace `ns` at `ip`, joining rooms of the shared server at `rooms`.
fn start_bridge(dir: &Path, name: &str, ns: &str, ip: IpAddr, hub: IpAddr, rooms: &str) -> Bridge {
    let config = Config {
        netns: Some(ns.into()),
        sip_port: BRIDGE_PORT,
        backend: Backend::Builtin {
            url: Some(rooms.into()),
        },
        extra_toml: "[drain]\nlimit_s = 60\n".into(),
        ..Config::on(ip, hub)
    };
    Bridge::start_named(dir, name, &config)
}

/// A call through Kamailio that hears the welcome prompt; returns it and the bridge that took it.
fn call(hub: IpAddr, proxy: SocketAddr) -> (Phone, IpAddr) {
    let phone = Phone::call_through(hub, proxy);
    phone.rtp.wait_sound(ANSWER);
    let bridge = phone.media.ip();
    (phone, bridge)
}

fn hang_up(phones: Vec<(Phone, IpAddr)>) {
    for (mut phone, _) in phones {
        phone.sip.bye(ANSWER);
    }
}

fn count(phones: &[(Phone, IpAddr)], bridge: IpAddr) -> usize {
    phones.iter().filter(|(_, b)| *b == bridge).count()
}

#[test]
fn kamailio_spreads_calls_fails_over_and_drains() {
    if !netns::reexec_in_netns("kamailio_spreads_calls_fails_over_and_drains") {
        return;
    }
    let dir = tools::test_dir();
    let hub: IpAddr = netns::ADDR_A.parse().unwrap();
    let rooms = Bridge::start_named(&dir, "rooms", &Config::on(hub, hub));
    let rooms_url = rooms.ws_url();
    let (_, a_ip) = netns::add_namespace("a", 1);
    let (_, b_ip) = netns::add_namespace("b", 2);
    let mut a = start_bridge(&dir, "a", "a", a_ip, hub, &rooms_url);
    let mut b = start_bridge(&dir, "b", "b", b_ip, hub, &rooms_url);
    let proxy = SocketAddr::new(hub, PROXY_PORT);
    let kamailio = Kamailio::start(&dir, proxy, &[a.sip, b.sip]);

    // 1. Four calls at once: two each (the fewest calls first).
    let phones: Vec<_> = (0..4).map(|_| call(hub, proxy)).collect();
    assert_eq!(
        (count(&phones, a_ip), count(&phones, b_ip)),
        (2, 2),
        "four calls should spread two and two"
    );
    hang_up(phones);

    // 2. One call on each, then `a` dies. Calls placed at once all get through, on `b`.
    let on_a = call(hub, proxy);
    let on_b = call(hub, proxy);
    assert_ne!(
        on_a.1, on_b.1,
        "the two calls should be on different bridges"
    );
    let (lost, kept) = if on_a.1 == a_ip {
        (on_a, on_b)
    } else {
        (on_b, on_a)
    };
    a.kill();
    let after_kill: Vec<_> = (0..3).map(|_| call(hub, proxy)).collect();
    assert_eq!(
        count(&after_kill, b_ip),
        3,
        "every call after the kill should land on the bridge still running"
    );
    // Out of rotation: by a failed call (failover) or a failed probe, whichever came first.
    kamailio.wait_log_any(
        &[
            &format!("bridge sip:{} failed", a.sip),
            &format!("bridge sip:{} is down", a.sip),
        ],
        Duration::from_secs(5 * PROBE_S),
    );
    drop(lost); // the killed bridge's call: its caller hears nothing more
    hang_up(after_kill);
    hang_up(vec![kept]);

    // 3. `a` restarted at the same address: back in rotation after a good probe.
    let a = start_bridge(&dir, "a-restarted", "a", a_ip, hub, &rooms_url);
    kamailio.wait_log(
        &format!("bridge sip:{} is up again", a.sip),
        Duration::from_secs(5 * PROBE_S),
    );

    // 4. A call on `b`, then `b` drains: new calls go to `a`, `b`'s call goes on. (Kamailio
    // still counts the killed bridge's call on `a`, whose caller never hung up, so the first
    // call goes to `b`; the second goes to either.)
    let mut before_drain: Vec<_> = (0..2).map(|_| call(hub, proxy)).collect();
    let on_b = before_drain
        .iter()
        .position(|(_, bridge)| *bridge == b_ip)
        .expect("one of two calls should land on b");
    let on_b = before_drain.remove(on_b);
    b.signal("TERM");
    kamailio.wait_log(
        &format!("bridge sip:{} is down", b.sip),
        Duration::from_secs(5 * PROBE_S),
    );
    let after_drain: Vec<_> = (0..2).map(|_| call(hub, proxy)).collect();
    assert_eq!(
        count(&after_drain, a_ip),
        2,
        "every call after the drain began should land on the other bridge"
    );
    let before = on_b.0.rtp.packets_received();
    on_b.0.rtp.wait_sound(ANSWER);
    tools::poll(
        "the drained bridge's call to keep flowing",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || (on_b.0.rtp.packets_received() > before + 50).then_some(()),
        || format!("{} packets", on_b.0.rtp.packets_received()),
    );
    // Its callers hang up; with no call left the drain is done.
    let (still_on_b, elsewhere) = before_drain
        .into_iter()
        .partition(|(_, bridge)| *bridge == b_ip);
    hang_up(still_on_b);
    hang_up(vec![on_b]);
    let status = b.wait_exit(Duration::from_secs(15));
    assert!(
        status.success(),
        "the drained bridge should exit 0, not {status}"
    );
    hang_up(after_drain);
    hang_up(elsewhere);
    drop(a);
    drop(rooms);
}
