use super::*;
use std::net::Ipv4Addr;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn limits() -> LimitsConfig {
    LimitsConfig {
        max_calls_per_source: 3,
        invite_rate_per_source: 2.0,
        invite_burst_per_source: 4,
        invite_rate: 10.0,
        invite_burst: 8,
        retry_after_s: 7,
        ..LimitsConfig::default()
    }
}

/// [`limits`] with the calls per source out of the way, to look at the rates alone.
fn rates_only() -> LimitsConfig {
    LimitsConfig {
        max_calls_per_source: 100,
        ..limits()
    }
}

fn admit_n(a: &mut Admission, source: IpAddr, n: usize, now: Instant) -> Vec<Decision> {
    (0..n).map(|_| a.admit(source, now)).collect()
}

#[test]
fn a_source_gets_its_burst_then_one_503_then_silence() {
    let t0 = Instant::now();
    let mut a = Admission::new(rates_only(), &[], t0);
    let d = admit_n(&mut a, ip(1), 6, t0);
    assert!(d[..4].iter().all(|d| *d == Decision::Admit), "{d:?}");
    assert_eq!(
        d[4],
        Decision::Reject(Refusal::SourceRate, Duration::from_secs(7))
    );
    assert_eq!(d[5], Decision::Drop(Refusal::SourceRate));
    // Half a second later one token (2/s) is back; the source is still over its limit.
    let later = t0 + Duration::from_millis(500);
    assert_eq!(a.admit(ip(1), later), Decision::Admit);
    assert_eq!(a.admit(ip(1), later), Decision::Drop(Refusal::SourceRate));
    // Once its bucket is full again (2 s of quiet), it is told again.
    let quiet = later + Duration::from_secs(2);
    assert!(
        admit_n(&mut a, ip(1), 4, quiet)
            .iter()
            .all(|d| *d == Decision::Admit)
    );
    assert!(matches!(a.admit(ip(1), quiet), Decision::Reject(..)));
}

#[test]
fn reject_policy_answers_every_excess_invite() {
    let t0 = Instant::now();
    let mut a = Admission::new(
        LimitsConfig {
            over_limit: OverLimit::Reject,
            ..rates_only()
        },
        &[],
        t0,
    );
    let d = admit_n(&mut a, ip(1), 7, t0);
    assert!(
        d[4..]
            .iter()
            .all(|d| matches!(d, Decision::Reject(Refusal::SourceRate, _)))
    );
}

#[test]
fn a_flooding_source_leaves_room_for_another() {
    let t0 = Instant::now();
    let mut a = Admission::new(limits(), &[], t0);
    for ms in 0..100 {
        let now = t0 + Duration::from_millis(ms * 10);
        a.admit(ip(1), now);
        a.admit(ip(1), now);
    }
    assert_eq!(a.admit(ip(2), t0 + Duration::from_secs(1)), Decision::Admit);
    assert_eq!(a.calls_of(ip(1)), 3, "capped by max_calls_per_source");
}

#[test]
fn calls_per_source_are_given_back() {
    let t0 = Instant::now();
    let burst = LimitsConfig {
        invite_burst_per_source: 10,
        ..limits()
    };
    let mut a = Admission::new(burst, &[], t0);
    assert!(
        admit_n(&mut a, ip(1), 3, t0)
            .iter()
            .all(|d| *d == Decision::Admit)
    );
    assert_eq!(
        a.admit(ip(1), t0),
        Decision::Reject(Refusal::SourceCalls, Duration::from_secs(7))
    );
    a.release(ip(1));
    assert_eq!(a.admit(ip(1), t0), Decision::Admit);
    for _ in 0..10 {
        a.release(ip(1));
    }
    assert_eq!(a.calls_of(ip(1)), 0, "never below zero");
}

#[test]
fn the_global_rate_is_answered_never_dropped() {
    let t0 = Instant::now();
    let mut a = Admission::new(rates_only(), &[], t0);
    let mut admitted = 0;
    for last in 1..=20 {
        for d in admit_n(&mut a, ip(last), 2, t0) {
            match d {
                Decision::Admit => admitted += 1,
                Decision::Reject(Refusal::GlobalRate, _) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(admitted, 8, "the overall burst");
}

#[test]
fn configured_trusted_sources_replace_the_default() {
    let t0 = Instant::now();
    let trunk: IpNet = "192.0.2.0/28".parse().unwrap();
    let mut a = Admission::new(
        LimitsConfig {
            trusted_sources: Some(Vec::new()),
            ..rates_only()
        },
        &[trunk],
        t0,
    );
    let d = admit_n(&mut a, ip(5), 5, t0);
    assert_eq!(
        d[4],
        Decision::Reject(Refusal::SourceRate, Duration::from_secs(7))
    );
}

#[test]
fn trusted_sources_skip_the_per_source_limits() {
    let t0 = Instant::now();
    let trunk: IpNet = "192.0.2.0/28".parse().unwrap();
    let mut a = Admission::new(limits(), &[trunk], t0);
    let d = admit_n(&mut a, ip(5), 8, t0);
    assert!(d.iter().all(|d| *d == Decision::Admit), "{d:?}");
    assert_eq!(
        a.admit(ip(5), t0),
        Decision::Reject(Refusal::GlobalRate, Duration::from_secs(7))
    );
    assert_eq!(a.tracked(), 0, "trusted sources are not tracked");
}

#[test]
fn the_source_map_stays_bounded_under_a_spoofed_flood() {
    let t0 = Instant::now();
    let mut a = Admission::new(
        LimitsConfig {
            invite_rate: 1e9,
            invite_burst: u32::MAX,
            ..limits()
        },
        &[],
        t0,
    );
    for n in 0..(MAX_TRACKED_SOURCES as u32 + 500) {
        let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        // Refused later by the overall call cap, as a spoofed flood would be.
        if a.admit(source, t0 + Duration::from_micros(n.into())) == Decision::Admit {
            a.release(source);
        }
    }
    assert!(a.tracked() <= MAX_TRACKED_SOURCES);
}

#[test]
fn tickets_release_their_call_when_dropped() {
    let burst = LimitsConfig {
        invite_burst_per_source: 10,
        ..limits()
    };
    let control = AdmissionControl::new(burst, &[]);
    let tickets: Vec<_> = (0..3).map(|_| control.admit(ip(9)).unwrap()).collect();
    assert!(matches!(
        control.admit(ip(9)),
        Err(Decision::Reject(Refusal::SourceCalls, _))
    ));
    drop(tickets);
    assert!(control.admit(ip(9)).is_ok());
}
