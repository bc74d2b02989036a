//! SIP over TLS against real peers: the bridge's TLS listener with a certificate from a test CA
//! (tests/common/tls.rs, openssl CLI). Debian builds sipp without TLS, so sipp talks plain TCP to
//! socat, which carries it over TLS and checks the bridge's certificate like a phone would
//! (`openssl s_client` looks at the certificate served after a reload). Logs are in
//! `target/tmp/dialbridge-it/sip_tls/<test>/`.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics;
use common::sipp::Sipp;
use common::tls::{Issued, TestCa, TlsRelay, Validity, install, served_subject};
use common::tools;

const SETTLE: Duration = Duration::from_secs(5);

/// The test config with a TLS listener on a free port serving `server`.
fn tls_config(server: &Issued, extra: &str) -> Config {
    let mut config = Config::trunk();
    config.extra_toml = format!(
        "[sip.tls]\nport = 0\ncert = \"{}\"\nkey = \"{}\"\n{extra}\n",
        server.cert.display(),
        server.key.display()
    );
    config
}

fn tls_addr(bridge: &Bridge) -> std::net::SocketAddr {
    bridge
        .sip_tls
        .expect("the READY line should name the TLS listener")
}

/// A caller over TLS goes through the IVR into room 1234, while TCP connections that never
/// start a handshake sit on the same listener; the 200 OK's Contact asks for TLS.
#[test]
fn sipp_over_tls_completes_the_ivr() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let bridge = Bridge::start(&dir, &tls_config(&ca.server("bridge", "127.0.0.1"), ""));
    let tls = tls_addr(&bridge);
    let _silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(tls).expect("connecting to the TLS listener"))
        .collect();
    let relay = TlsRelay::start(&dir, tls, &ca.cert, None);

    let call = Caller::dial(&dir, "uac_call.xml", relay.addr, &[0], Sipp::tcp);
    call.assert_answer(0, true);
    call.join_room("1234", bridge.signaling);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);

    let messages = sipp_messages(&dir);
    assert!(
        messages
            .lines()
            .any(|l| l.starts_with("Contact:") && l.contains(";transport=tls")),
        "the bridge's Contact should ask for TLS; sipp's messages:\n{messages}"
    );
}

/// With `client_ca`, only peers with a certificate from that CA get through the handshake.
#[test]
fn client_certificate_is_required_when_configured() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let other = TestCa::new(&dir, "other-ca");
    let client_ca = format!("client_ca = \"{}\"", ca.cert.display());
    let bridge = Bridge::start(
        &dir,
        &tls_config(&ca.server("bridge", "127.0.0.1"), &client_ca),
    );
    let tls = tls_addr(&bridge);

    let trunk = ca.issue("trunk", "127.0.0.1", Validity::Days(30));
    let relay = TlsRelay::start(&dir, tls, &ca.cert, Some(&trunk));
    Sipp::new(&dir, "uac_options.xml", relay.addr)
        .tcp()
        .log_name("with_certificate")
        .timeout(Duration::from_secs(10))
        .run()
        .assert_success();

    for (name, client) in [
        ("without_certificate", None),
        (
            "foreign_certificate",
            Some(other.issue("stranger", "127.0.0.1", Validity::Days(30))),
        ),
    ] {
        let before = handshake_failures(&bridge);
        let relay = TlsRelay::start(&dir, tls, &ca.cert, client.as_ref());
        let outcome = Sipp::new(&dir, "uac_options.xml", relay.addr)
            .tcp()
            .log_name(name)
            .timeout(Duration::from_secs(5))
            .run();
        assert!(
            outcome.code != Some(0),
            "{name}: OPTIONS got through a listener that requires a client certificate"
        );
        metrics::wait_for(
            bridge.signaling,
            "dialbridge_sip_malformed_total{reason=\"tls_handshake\"}",
            "a failed handshake",
            SETTLE,
            |v| v > before,
        );
    }
}

/// SIGHUP loads a renewed certificate: new connections get it, the call in progress stays up.
#[test]
fn sighup_reloads_the_certificate_without_dropping_calls() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let first = ca.server("first", "127.0.0.1");
    let live = Issued {
        cert: dir.join("live.pem"),
        key: dir.join("live.key"),
    };
    install(&first, &live);
    let bridge = Bridge::start(&dir, &tls_config(&live, ""));
    let tls = tls_addr(&bridge);
    assert_eq!(served_subject(tls, &ca.cert), "CN = first");

    let relay = TlsRelay::start(&dir, tls, &ca.cert, None);
    let call = Caller::dial(&dir, "uac_call.xml", relay.addr, &[0], Sipp::tcp);
    call.join_room("1234", bridge.signaling);

    install(&ca.server("second", "127.0.0.1"), &live);
    reload(&bridge, "ok");
    assert_eq!(served_subject(tls, &ca.cert), "CN = second");

    // The call that began under the old certificate is still up and ends normally.
    call.rtp.assert_flowing(Duration::from_secs(2));
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);

    // A broken renewal keeps the certificate in use and says so.
    std::fs::write(&live.key, "not a key").expect("breaking the key file");
    reload(&bridge, "failed");
    assert_eq!(served_subject(tls, &ca.cert), "CN = second");
}

/// `check-config` names what is wrong with a certificate in words.
#[test]
fn check_config_explains_certificate_problems() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let good = ca.server("good", "127.0.0.1");
    let expired = ca.issue("expired", "127.0.0.1", Validity::Expired);
    let soon = ca.issue("soon", "127.0.0.1", Validity::Days(3));
    let cases = [
        (
            "missing",
            Issued {
                cert: dir.join("nowhere.pem"),
                key: good.key.clone(),
            },
            "does not exist",
        ),
        ("expired", expired.clone(), "expired on"),
        (
            "mismatched",
            Issued {
                cert: good.cert.clone(),
                key: expired.key.clone(),
            },
            "does not belong to the certificate",
        ),
    ];
    for (name, files, words) in cases {
        let out = check_config(&dir, name, &files);
        assert!(!out.status.success(), "{name}: check-config accepted it");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("sip.tls.cert") && text.contains(words),
            "{name}: check-config should say \"{words}\":\n{text}"
        );
    }
    let out = check_config(&dir, "soon", &soon);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("warning") && text.contains("expires on"),
        "a certificate valid 3 more days passes with a warning:\n{text}"
    );
    assert!(check_config(&dir, "good", &good).status.success());
}

fn check_config(dir: &Path, name: &str, files: &Issued) -> std::process::Output {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, tls_config(files, "").to_toml()).expect("writing the config");
    Command::new(env!("CARGO_BIN_EXE_dialbridge"))
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .expect("running dialbridge check-config")
}

/// Sends SIGHUP and waits until the bridge counts the first reload with `result`.
fn reload(bridge: &Bridge, result: &str) {
    bridge.sighup();
    metrics::wait_for(
        bridge.signaling,
        &format!("dialbridge_tls_reloads_total{{result=\"{result}\"}}"),
        "1",
        SETTLE,
        |v| v == 1.0,
    );
}

fn handshake_failures(bridge: &Bridge) -> f64 {
    metrics::scrape(bridge.signaling)
        .get("dialbridge_sip_malformed_total{reason=\"tls_handshake\"}")
}

/// sipp's message trace of the one call of a test.
fn sipp_messages(dir: &Path) -> String {
    let path = dir.join("uac_call_messages.log");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read sipp's messages {}: {e}", path.display()))
}
