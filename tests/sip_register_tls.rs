//! Register mode over TLS against a real kamailio with its tls module (apt
//! kamailio-tls-modules): both sides hold certificates from a CA the test makes
//! (tests/common/tls.rs). The bridge registers to `sip:…;transport=tls`, checking kamailio's
//! certificate against `sip.tls.ca_file`; kamailio relays a call to the contact the bridge
//! registered, over TLS to the bridge's listener, checking the bridge's certificate.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::kamailio::Kamailio;
use common::tls::TestCa;
use common::{metrics, tools};

#[test]
fn registers_over_tls_and_takes_a_call() {
    registers_and_takes_a_call(
        |port| format!("sip:127.0.0.1:{port};transport=tls"),
        |tls| format!("sip:bridge@{tls};transport=tls"),
    );
}

/// A `sips:` registrar gets a `sips:` Contact (RFC 3261 8.1.1.8).
#[test]
fn sips_registrar_gets_a_sips_contact() {
    registers_and_takes_a_call(
        |port| format!("sips:127.0.0.1:{port}"),
        |tls| format!("sips:bridge@{tls}"),
    );
}

/// Registers to the registrar URI `registrar(tls port)`, checks kamailio saved the contact
/// `contact(bridge's TLS listener)`, and takes a call kamailio relays there.
fn registers_and_takes_a_call(
    registrar: impl Fn(u16) -> String,
    contact: impl Fn(std::net::SocketAddr) -> String,
) {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let tls_port = tools::free_port();
    let kamailio = Kamailio::start_tls(
        &dir,
        tools::free_port(),
        tls_port,
        &ca.server("registrar", "127.0.0.1"),
        &ca.cert,
    );
    let registrar = registrar(tls_port);
    let bridge_cert = ca.server("bridge", "127.0.0.1");
    let mut config = Config::register(&registrar, "bridge", "secret", 60);
    config.extra_toml = format!(
        "[sip.tls]\nport = 0\ncert = \"{}\"\nkey = \"{}\"\nca_file = \"{}\"\n",
        bridge_cert.cert.display(),
        bridge_cert.key.display(),
        ca.cert.display()
    );
    let bridge = Bridge::start(&dir, &config);
    let sig = bridge.signaling;
    metrics::wait_for(
        sig,
        "dialbridge_registered",
        "1",
        Duration::from_secs(15),
        |v| v == 1.0,
    );
    let tls = bridge
        .sip_tls
        .expect("the READY line names the TLS listener");
    let log = std::fs::read_to_string(kamailio.log()).unwrap_or_default();
    let contact = contact(tls);
    assert!(
        log.lines()
            .any(|l| l.contains("REGISTER for") && l.contains(&format!("contact <{contact}>"))),
        "kamailio should have saved the bridge's TLS contact {contact}:\n{}",
        tools::tail(kamailio.log(), 40)
    );

    // sipp calls kamailio over UDP; kamailio relays to the registered contact over TLS.
    kamailio.call_account(&dir, "bridge", sig);
}

/// A registrar whose certificate the bridge cannot verify gets no REGISTER: the bridge stays
/// unregistered and keeps retrying.
#[test]
fn registrar_with_an_unknown_certificate_is_refused() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "test-ca");
    let stranger = TestCa::new(&dir, "stranger-ca");
    let tls_port = tools::free_port();
    let kamailio = Kamailio::start_tls(
        &dir,
        tools::free_port(),
        tls_port,
        &stranger.server("registrar", "127.0.0.1"),
        &stranger.cert,
    );
    let mut config = Config::register(
        &format!("sip:127.0.0.1:{tls_port};transport=tls"),
        "bridge",
        "secret",
        60,
    );
    config.extra_toml = format!("[sip.tls]\nca_file = \"{}\"\n", ca.cert.display());
    let bridge = Bridge::start(&dir, &config);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_registration_failures_total",
        "a failed attempt",
        Duration::from_secs(15),
        |v| v >= 1.0,
    );
    assert_eq!(
        metrics::scrape(bridge.signaling).get("dialbridge_registered"),
        0.0
    );
    let log = std::fs::read_to_string(kamailio.log()).unwrap_or_default();
    assert!(
        !log.contains("REGISTER for"),
        "kamailio got a REGISTER over a connection the bridge should have refused:\n{log}"
    );
}
