use super::*;
use DrainAction::*;

fn actions(d: &mut Drain) -> Vec<DrainAction> {
    std::iter::from_fn(|| d.poll_action()).collect()
}

const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn calls_finishing_before_the_limit_end_the_drain() {
    let t0 = Instant::now();
    let mut d = Drain::new(LIMIT);
    d.calls_changed(2);
    assert_eq!(actions(&mut d), []);
    assert_eq!(d.poll_timeout(), None);
    d.request(Request::Drain, t0);
    assert_eq!(actions(&mut d), [StopAccepting]);
    assert_eq!(d.poll_timeout(), Some(t0 + LIMIT));
    d.request(Request::Drain, t0 + Duration::from_secs(1));
    assert_eq!(
        actions(&mut d),
        [],
        "a second drain request changes nothing"
    );
    d.calls_changed(1);
    d.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(actions(&mut d), []);
    d.calls_changed(0);
    assert_eq!(actions(&mut d), [Exit]);
    assert_eq!(d.phase(), Phase::Done);
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn the_limit_brings_goodbyes_then_a_hang_up() {
    let t0 = Instant::now();
    let mut d = Drain::new(LIMIT);
    d.calls_changed(1);
    d.request(Request::Drain, t0);
    assert_eq!(actions(&mut d), [StopAccepting]);
    d.handle_timeout(t0 + LIMIT - Duration::from_millis(1));
    assert_eq!(actions(&mut d), []);
    d.handle_timeout(t0 + LIMIT);
    assert_eq!(actions(&mut d), [SayGoodbye]);
    let closing_until = t0 + LIMIT + GOODBYE_GRACE;
    assert_eq!(d.poll_timeout(), Some(closing_until));
    // A call that ignores its goodbye is hung up, then dropped.
    d.handle_timeout(closing_until);
    assert_eq!(actions(&mut d), [HangUpNow]);
    d.handle_timeout(closing_until + HANGUP_GRACE);
    assert_eq!(actions(&mut d), [Exit]);
    assert_eq!(d.phase(), Phase::Done);
}

#[test]
fn goodbye_then_last_call_ends() {
    let t0 = Instant::now();
    let mut d = Drain::new(Duration::ZERO);
    d.calls_changed(3);
    d.request(Request::Drain, t0);
    d.handle_timeout(t0);
    assert_eq!(actions(&mut d), [StopAccepting, SayGoodbye]);
    d.calls_changed(0);
    assert_eq!(actions(&mut d), [Exit]);
}

#[test]
fn idle_bridge_exits_at_once() {
    let mut d = Drain::new(LIMIT);
    d.request(Request::Drain, Instant::now());
    assert_eq!(actions(&mut d), [StopAccepting, Exit]);
}

#[test]
fn stop_during_drain_hangs_up_at_once() {
    let t0 = Instant::now();
    let mut d = Drain::new(LIMIT);
    d.calls_changed(2);
    d.request(Request::Drain, t0);
    d.request(Request::StopNow, t0 + Duration::from_secs(3));
    assert_eq!(actions(&mut d), [StopAccepting, HangUpNow]);
    d.request(Request::StopNow, t0 + Duration::from_secs(4));
    d.request(Request::Drain, t0 + Duration::from_secs(4));
    assert_eq!(actions(&mut d), []);
    d.calls_changed(0);
    assert_eq!(actions(&mut d), [Exit]);
    d.calls_changed(0);
    d.request(Request::StopNow, t0 + Duration::from_secs(5));
    assert_eq!(actions(&mut d), [], "done stays done");
}

#[test]
fn stop_while_accepting_stops_accepting_and_hangs_up() {
    let t0 = Instant::now();
    let mut d = Drain::new(LIMIT);
    d.calls_changed(1);
    d.request(Request::StopNow, t0);
    assert_eq!(actions(&mut d), [StopAccepting, HangUpNow]);
    assert_eq!(d.poll_timeout(), Some(t0 + HANGUP_GRACE));
    // New calls admitted just before do not reopen anything.
    d.calls_changed(2);
    d.calls_changed(0);
    assert_eq!(actions(&mut d), [Exit]);
}

#[test]
fn calls_counted_while_accepting_do_not_end_anything() {
    let mut d = Drain::new(LIMIT);
    d.calls_changed(1);
    d.calls_changed(0);
    assert_eq!(actions(&mut d), []);
    assert_eq!(d.phase(), Phase::Accepting);
}
