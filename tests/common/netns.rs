//! Runs one test inside a fresh network namespace with a veth pair, so WebRTC peers (libnice,
//! Janus, Chromium never use loopback candidates) can reach each other without touching any real
//! network: the only addresses that exist are loopback and the two made up here.
//!
//! Use: `common::netns`, and first thing in a test
//! `if !netns::reexec_in_netns("test_fn_name") { return; }`. Outside the namespace this re-runs
//! exactly that test (`--exact`) under `unshare -n` (needs root or CAP_SYS_ADMIN) and asserts it
//! passed; inside (marked by [`MARKER`]) it builds the veth pair and returns `true`, and the
//! test body runs there. The namespace dies with the child process, so there is nothing to clean.

use std::path::Path;
use std::process::Command;

/// Environment variable that tells the re-executed test it is inside (its value: the test name).
pub const MARKER: &str = "DIALBRIDGE_TEST_NETNS";
/// The two ends of the veth pair and their addresses (a /24).
pub const IFACE_A: &str = "v0";
pub const IFACE_B: &str = "v1";
pub const ADDR_A: &str = "10.99.0.1";
pub const ADDR_B: &str = "10.99.0.2";

/// See the module docs. `test_name`: the test's path in the test binary (`my_test` for a
/// top-level `fn my_test`).
pub fn reexec_in_netns(test_name: &str) -> bool {
    if let Ok(inside) = std::env::var(MARKER) {
        assert_eq!(inside, test_name, "re-executed for another test");
        setup_veth();
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    // A mount namespace of its own too: `add_namespace` mounts /run/netns privately.
    let status = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "--"])
        .arg(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARKER, test_name)
        .status()
        .expect("unshare (util-linux) is installed");
    assert!(
        status.success(),
        "{test_name} failed inside its network namespace: {status}"
    );
    false
}

/// Inside a fresh namespace: refuses to run anywhere else (only `lo` may exist), turns IPv6 off
/// (no link-local candidates, no DAD delay), then creates and raises the veth pair.
fn setup_veth() {
    // /proc/self/net follows the namespace (sysfs would still show the host's interfaces).
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("procfs is mounted");
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        interfaces,
        ["lo"],
        "not a fresh network namespace: refusing to touch it"
    );
    for conf in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
        if Path::new(&path).exists() {
            std::fs::write(&path, "1").expect("root may set per-namespace sysctls");
        }
    }
    let pair = format!("link add {IFACE_A} type veth peer name {IFACE_B}");
    let addr_a = format!("addr add {ADDR_A}/24 dev {IFACE_A}");
    let addr_b = format!("addr add {ADDR_B}/24 dev {IFACE_B}");
    let up = |iface: &str| format!("link set {iface} up");
    for command in [pair, addr_a, addr_b, up("lo"), up(IFACE_A), up(IFACE_B)] {
        let status = Command::new("ip")
            .args(command.split(' '))
            .status()
            .expect("ip (iproute2) is installed");
        assert!(status.success(), "ip {command}: {status}");
    }
}

/// Inside the test's namespace: a further network namespace `name` (for `ip netns exec`), joined
/// to this one by a veth pair on 10.98.`index`.0/24: this side .1, the other side .2 (its
/// default route points back here, so it reaches every address of this namespace). Returns
/// (this side, the other side). The namespace list lives on a tmpfs of this test's own mount
/// namespace, so nothing outlives the test.
pub fn add_namespace(name: &str, index: u8) -> (std::net::IpAddr, std::net::IpAddr) {
    assert!(
        std::env::var_os(MARKER).is_some(),
        "add_namespace only runs inside the test's own namespace"
    );
    static RUN_NETNS: std::sync::Once = std::sync::Once::new();
    RUN_NETNS.call_once(|| {
        std::fs::create_dir_all("/run/netns").expect("create /run/netns");
        run("mount", &["-t", "tmpfs", "tmpfs", "/run/netns"]);
    });
    let here = format!("10.98.{index}.1");
    let there = format!("10.98.{index}.2");
    let outer = format!("h{name}");
    let inner = format!("n{name}");
    run("ip", &["netns", "add", name]);
    run(
        "ip",
        &[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", name,
        ],
    );
    run("ip", &["addr", "add", &format!("{here}/24"), "dev", &outer]);
    run("ip", &["link", "set", &outer, "up"]);
    let inside = |args: &[&str]| {
        let mut all = vec!["netns", "exec", name, "ip"];
        all.extend_from_slice(args);
        run("ip", &all);
    };
    inside(&["addr", "add", &format!("{there}/24"), "dev", &inner]);
    inside(&["link", "set", &inner, "up"]);
    inside(&["link", "set", "lo", "up"]);
    inside(&["route", "add", "default", "via", &here]);
    (here.parse().unwrap(), there.parse().unwrap())
}

/// Runs `program args`, panicking with the command on failure.
fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}
