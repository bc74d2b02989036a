//! The built-in signaling server over HTTPS and `wss://` on loopback, with certificates from a
//! test CA (tests/common/tls.rs): the host page and `/metrics` over HTTPS next to TCP clients
//! that never start a handshake, room lookups over `wss://` verified against the CA, a call
//! that joins a room through the bridge's own `wss://` connection, a SIGHUP that serves a renewed
//! certificate, and the clear error when a server's certificate is not from a trusted CA (both
//! the built-in client and the Janus client). Audio over `wss://` is in `tests/janus_sip.rs`
//! (WebRTC needs a network namespace). Logs: `target/tmp/dialbridge-it/wss/<test>/`.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics::Metrics;
use common::tls::{Issued, TestCa, https_get, install, served_subject};
use common::tools;
use dialbridge::conference::builtin::BuiltinBackend;
use dialbridge::conference::janus::{JanusBackend, JanusOptions, JanusPlugin};
use dialbridge::conference::{ConferenceBackend, RoomLookup};

const PROMPT: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(5);

/// The test config with the signaling server on HTTPS/wss serving `cert`.
fn wss_config(cert: &Issued) -> Config {
    let mut config = Config::trunk();
    config.extra_toml = format!(
        "[conference.builtin.tls]\ncert = {:?}\nkey = {:?}\n",
        cert.cert.display().to_string(),
        cert.key.display().to_string()
    );
    config
}

fn wss_url(bridge: &Bridge) -> String {
    format!("wss://{}/ws", bridge.signaling)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a tokio runtime starts")
}

/// `/metrics` over HTTPS until `name` satisfies `ok`.
fn wait_metric(bridge: &Bridge, ca: &std::path::Path, name: &str, ok: impl Fn(f64) -> bool) {
    tools::poll(
        name,
        SETTLE,
        Duration::from_millis(100),
        || match https_get(bridge.signaling, "/metrics", ca) {
            Ok((200, body)) => Metrics::parse(&body)
                .0
                .get(name)
                .copied()
                .filter(|v| ok(*v)),
            _ => None,
        },
        || https_get(bridge.signaling, "/metrics", ca).map_or_else(|e| e.to_string(), |r| r.1),
    );
}

/// A caller types room 1234 and joins it: the bridge's own wss:// connection to its server works.
fn call_joins_room_1234(dir: &std::path::Path, bridge: &Bridge, ca: &TestCa) {
    let call = Caller::dial(dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits("1234#");
    call.rtp.expect_prompt("joining", PROMPT);
    wait_metric(bridge, &ca.cert, "dialbridge_calls_joined_total", |v| {
        v == 1.0
    });
    call.hang_up();
}

/// The host page and `/metrics` come over HTTPS while TCP clients sit silent on the port; a
/// client trusting the test CA looks up rooms over wss://; a caller joins room 1234 through the
/// bridge's own wss:// connection; plain ws:// to the TLS port gets nowhere.
#[test]
fn https_page_wss_lookups_and_a_call_joining_over_wss() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let bridge = Bridge::start(&dir, &wss_config(&ca.server("signaling", "127.0.0.1")));
    let _silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(bridge.signaling).expect("connecting to the signaling port"))
        .collect();

    let (status, page) = https_get(bridge.signaling, "/", &ca.cert).expect("GET / over HTTPS");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html"), "the host page: {page}");

    let rt = runtime();
    let tls = dialbridge::tls::client_config(Some(&ca.cert)).expect("the test CA loads");
    let client = BuiltinBackend::new(wss_url(&bridge), None).with_tls(tls);
    let found = rt
        .block_on(client.lookup_room("5678"))
        .expect("lookup over wss");
    assert_eq!(found, RoomLookup::Found { pin_required: true });
    let plain = BuiltinBackend::new(format!("ws://{}/ws", bridge.signaling), None)
        .with_timeout(Duration::from_secs(2));
    assert!(
        rt.block_on(plain.lookup_room("5678")).is_err(),
        "plain ws:// must not reach a TLS-only server"
    );

    call_joins_room_1234(&dir, &bridge, &ca);
}

/// Verification is on by default: a server whose certificate comes from a CA the client was not
/// given is refused, and the error names the URL, says why and what to set.
#[test]
fn wss_to_a_server_from_another_ca_is_refused_with_a_clear_error() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let other = TestCa::new(&dir, "other-ca");
    let bridge = Bridge::start(&dir, &wss_config(&ca.server("signaling", "127.0.0.1")));
    let rt = runtime();
    let url = wss_url(&bridge);
    let tls = dialbridge::tls::client_config(Some(&other.cert)).expect("the other CA loads");

    let client = BuiltinBackend::new(url.clone(), None).with_tls(tls.clone());
    let err = rt
        .block_on(client.lookup_room("1234"))
        .unwrap_err()
        .to_string();
    eprintln!("RESULT built-in client: {err}");
    for words in [
        url.as_str(),
        "certificate verification failed",
        "conference.ca_file",
    ] {
        assert!(err.contains(words), "the error should say {words:?}: {err}");
    }

    // The Janus client goes through the same TLS setup and fails the same way.
    let janus_url = format!("wss://{}", bridge.signaling);
    let options = JanusOptions::new(janus_url.clone(), JanusPlugin::VideoRoom).with_tls(tls);
    let err = rt
        .block_on(JanusBackend::new(options).lookup_room("1234"))
        .unwrap_err()
        .to_string();
    eprintln!("RESULT Janus client: {err}");
    for words in [janus_url.as_str(), "certificate verification failed"] {
        assert!(err.contains(words), "the error should say {words:?}: {err}");
    }
}

/// SIGHUP serves a renewed certificate on the signaling port, and the bridge's own connection
/// (which pins the served certificate) follows it: a call after the renewal still joins.
#[test]
fn sighup_renews_the_signaling_certificate_and_the_bridge_follows() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let live = Issued {
        cert: dir.join("live.pem"),
        key: dir.join("live.key"),
    };
    install(&ca.server("first", "127.0.0.1"), &live);
    let bridge = Bridge::start(&dir, &wss_config(&live));
    assert_eq!(served_subject(bridge.signaling, &ca.cert), "CN = first");

    install(&ca.server("second", "127.0.0.1"), &live);
    bridge.sighup();
    wait_metric(
        &bridge,
        &ca.cert,
        "dialbridge_tls_reloads_total{result=\"ok\"}",
        |v| v == 1.0,
    );
    assert_eq!(served_subject(bridge.signaling, &ca.cert), "CN = second");

    call_joins_room_1234(&dir, &bridge, &ca);
}
