use super::*;

fn limits() -> Limits {
    Limits {
        max_wrong: 3,
        window: Duration::from_secs(600),
        lockout: Duration::from_secs(60),
        lockout_max: Duration::from_secs(200),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `Verdict::Locked` for `remaining_s` seconds with `new_lockouts`.
fn locked(remaining_s: u64, new_lockouts: u32) -> Verdict {
    Verdict::Locked {
        remaining: secs(remaining_s),
        new_lockouts,
    }
}

fn source(last: u8) -> Key {
    Key::Source(IpAddr::from([192, 0, 2, last]))
}

/// Records `n` wrong entries one second apart from `start`; returns the last verdict.
fn wrong_n(l: &mut GuessLimiter, keys: &[Key], start: Instant, n: u64) -> Verdict {
    let mut verdict = Verdict::Allowed { left: 0 };
    for i in 0..n {
        verdict = l.record_wrong(keys, start + secs(i));
    }
    verdict
}

#[test]
fn locks_after_max_wrong_and_a_right_entry_resets_nothing() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::new(limits());
    let keys = [Key::caller(Some("+4930123456")), source(1)];
    assert_eq!(
        l.record_wrong(&keys, t0),
        Verdict::Allowed { left: 2 },
        "two more wrong entries are allowed"
    );
    assert_eq!(
        l.record_wrong(&keys, t0 + secs(1)),
        Verdict::Allowed { left: 1 }
    );
    assert_eq!(l.check(&keys, t0 + secs(1)), None);
    // There is no "right entry" that could clear the count: the third wrong one locks.
    assert_eq!(l.record_wrong(&keys, t0 + secs(2)), locked(60, 2));
    assert_eq!(l.check(&keys, t0 + secs(12)), Some(secs(50)));
    // Each key on its own is locked.
    assert_eq!(l.check(&keys[..1], t0 + secs(12)), Some(secs(50)));
    assert_eq!(l.check(&keys[1..], t0 + secs(12)), Some(secs(50)));
    assert_eq!(l.check(&keys, t0 + secs(62)), None, "the lockout ended");
}

/// A limiter where `key` got its first lockout (60 s) at t0 + 2 s.
fn locked_once(key: Key) -> (Instant, GuessLimiter, [Key; 1]) {
    let t0 = Instant::now();
    let mut l = GuessLimiter::new(limits());
    let keys = [key];
    wrong_n(&mut l, &keys, t0, 3);
    (t0, l, keys)
}

#[test]
fn a_wrong_entry_while_locked_adds_no_lockout() {
    let (t0, mut l, keys) = locked_once(source(1));
    assert_eq!(l.record_wrong(&keys, t0 + secs(10)), locked(52, 0));
}

#[test]
fn cool_down_doubles_up_to_the_maximum() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::new(limits());
    let keys = [source(2)];
    let mut t = t0;
    for expected in [60, 120, 200, 200] {
        let verdict = wrong_n(&mut l, &keys, t, 3);
        assert_eq!(verdict, locked(expected, 1));
        // Come back just after the lockout ended.
        t += secs(2 + expected);
        assert_eq!(l.check(&keys, t), None);
    }
}

#[test]
fn escalation_is_forgotten_long_after_the_last_lockout() {
    let (t0, mut l, keys) = locked_once(source(3));
    // The lockout (60 s) ended, then lockout_max (200 s) passed: a fresh start.
    let later = t0 + secs(2 + 60 + 200 + 1);
    assert_eq!(wrong_n(&mut l, &keys, later, 3), locked(60, 1));
}

#[test]
fn wrong_entries_older_than_the_window_do_not_count() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::new(limits());
    let keys = [Key::caller(Some("100"))];
    wrong_n(&mut l, &keys, t0, 2);
    // The first two fell out of the 600 s window.
    let t1 = t0 + secs(601 + 1);
    assert_eq!(l.record_wrong(&keys, t1), Verdict::Allowed { left: 2 });
    assert_eq!(
        l.record_wrong(&keys, t1 + secs(1)),
        Verdict::Allowed { left: 1 }
    );
}

#[test]
fn keys_are_counted_separately() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::new(limits());
    wrong_n(&mut l, &[Key::caller(Some("100")), source(1)], t0, 3);
    assert!(l.check(&[Key::caller(Some("200"))], t0).is_none());
    assert!(l.check(&[source(9)], t0).is_none());
    // A new number from the locked source is still locked through the source.
    assert!(
        l.check(&[Key::caller(Some("200")), source(1)], t0)
            .is_some()
    );
}

#[test]
fn callers_without_a_number_share_one_key() {
    assert_eq!(Key::caller(None), Key::caller(Some("  ")));
    assert_eq!(Key::caller(Some(" Alice ")), Key::caller(Some("alice")));
    assert_ne!(Key::caller(None), Key::caller(Some("100")));
}

#[test]
fn debug_of_a_caller_key_masks_the_number() {
    let shown = format!("{:?}", Key::caller(Some("+493012345689")));
    assert!(!shown.contains("12345"), "{shown}");
}

#[test]
fn memory_is_bounded_and_locked_keys_survive_a_flood() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::with_capacity(limits(), 100);
    let locked = [source(250)];
    wrong_n(&mut l, &locked, t0, 3);
    // A flood of fresh keys, one wrong entry each.
    for i in 0..1000u32 {
        let key = Key::caller(Some(&i.to_string()));
        l.record_wrong(&[key], t0 + secs(3));
        assert!(l.len() <= 100, "{} keys kept", l.len());
    }
    assert!(
        l.check(&locked, t0 + secs(4)).is_some(),
        "the locked key was evicted by the flood"
    );
}

#[test]
fn expired_keys_are_dropped_first() {
    let t0 = Instant::now();
    let mut l = GuessLimiter::with_capacity(limits(), 2);
    l.record_wrong(&[source(1)], t0);
    l.record_wrong(&[source(2)], t0 + secs(500));
    // source(1)'s entry is past the window; source(2)'s is not.
    l.record_wrong(&[source(3)], t0 + secs(700));
    assert_eq!(l.len(), 2);
    assert_eq!(
        l.record_wrong(&[source(2)], t0 + secs(701)),
        Verdict::Allowed { left: 1 },
        "source 2 kept its count"
    );
}

#[test]
fn config_maps_to_limits() {
    let c = GuessingConfig::default();
    let l = Limits::from(&c);
    assert_eq!(l.max_wrong, 5);
    assert_eq!(l.window, secs(600));
    assert_eq!(l.lockout, secs(60));
    assert_eq!(l.lockout_max, secs(3600));
}
