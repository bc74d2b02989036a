//! Register mode against a real kamailio (tests/data/kamailio.cfg: digest auth, in-memory
//! location table): the bridge registers, refreshes, notices the registrar going away, registers
//! again when it is back, and takes a call that kamailio routes to its registered contact.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::kamailio::Kamailio;
use common::{metrics, tools};

/// Registration lifetime the bridge asks for; kamailio's min_expires is 5.
const EXPIRES_S: u32 = 10;

#[test]
fn registers_refreshes_recovers_and_takes_calls() {
    let dir = tools::test_dir();
    let mut kamailio = Kamailio::start(&dir, tools::free_port());
    let bridge = Bridge::start(
        &dir,
        &Config::register(&kamailio.uri(), "bridge", "secret", EXPIRES_S),
    );
    let sig = bridge.signaling;

    // Registered (through the 401 challenge), then refreshed before the binding runs out.
    let m = metrics::wait_for(
        sig,
        "dialbridge_registered",
        "1",
        Duration::from_secs(15),
        |v| v == 1.0,
    );
    let first = m.get("dialbridge_registrations_total");
    assert!(
        first >= 1.0,
        "registered but dialbridge_registrations_total is {first}"
    );
    let refresh = Duration::from_secs(u64::from(EXPIRES_S) + 5);
    metrics::wait_for(
        sig,
        "dialbridge_registrations_total",
        "a refresh",
        refresh,
        |v| v > first,
    );
    assert_eq!(metrics::scrape(sig).get("dialbridge_registered"), 1.0);

    // Registrar gone: refreshes fail, so the bridge stops counting itself registered at the
    // latest when the binding expired plus one SIP transaction timeout (32 s).
    kamailio.stop();
    let at_stop = metrics::scrape(sig).get("dialbridge_registrations_total");
    let give_up = Duration::from_secs(u64::from(EXPIRES_S) + 40);
    metrics::wait_for(
        sig,
        "dialbridge_registered",
        "0 after the registrar went away",
        give_up,
        |v| v == 0.0,
    );
    let while_down = metrics::scrape(sig).get("dialbridge_registrations_total");
    assert_eq!(
        while_down, at_stop,
        "registrations_total grew with no registrar running"
    );

    // Back on the same port, with an empty location table: the retry (at most 2 s apart)
    // registers again.
    kamailio.restart();
    metrics::wait_for(
        sig,
        "dialbridge_registered",
        "1 after the registrar came back",
        Duration::from_secs(20),
        |v| v == 1.0,
    );
    let again = metrics::scrape(sig).get("dialbridge_registrations_total");
    assert!(
        again > while_down,
        "registered again but registrations_total stayed {again}"
    );

    // A call to the account, routed by kamailio to the contact the bridge registered.
    kamailio.call_account(&dir, "bridge", sig);
    assert_eq!(metrics::scrape(sig).get("dialbridge_registered"), 1.0);
}
