//! One test per kind of mistake [`validate`](super::validate) must explain.

use super::super::tests::TempBase;
use super::super::{Config, RoomConfig, Route, SipMode};
use super::ConfigProblem;
use crate::media::codec::Codec;

/// Validates against a base with `prompts/en` and `prompts/de`.
fn problems(c: &Config) -> Vec<ConfigProblem> {
    let base = TempBase::new("validate");
    c.validate_with_base(&base.0)
}

fn fields(c: &Config) -> Vec<String> {
    problems(c).into_iter().map(|p| p.field).collect()
}

fn has(c: &Config, field: &str, words: &str) {
    let all = problems(c);
    assert!(
        all.iter()
            .any(|p| p.field == field && p.message.contains(words)),
        "no problem for {field} mentioning {words:?} in {all:#?}"
    );
}

#[test]
fn default_is_clean() {
    assert!(problems(&Config::default()).is_empty());
}

#[test]
fn register_mode_needs_account() {
    let mut c = Config::default();
    c.sip.mode = SipMode::Register;
    let all = problems(&c);
    assert_eq!(
        all[0].to_string(),
        "sip.register.registrar: register mode needs the registrar URI, e.g. \"sip:sip.example.com\""
    );
    has(&c, "sip.register.username", "user name");
    has(&c, "sip.register.password", "DIALBRIDGE_SIP_PASSWORD");
    c.sip.register.registrar = "sip:sip.example.com".into();
    c.sip.register.username = "alice".into();
    c.sip.register.password = "pw".into();
    assert!(problems(&c).is_empty());
}

#[test]
fn registrar_must_be_a_sip_uri() {
    let mut c = Config::default();
    c.sip.register.registrar = "sip.example.com".into();
    has(&c, "sip.register.registrar", "not a SIP URI");
    c.sip.register.registrar = "sips:".into();
    has(&c, "sip.register.registrar", "no host");
    c.sip.register.registrar = "SIPS:sip.example.com".into();
    assert!(problems(&c).is_empty());
}

#[test]
fn register_timers() {
    let mut c = Config::default();
    c.sip.mode = SipMode::Register;
    c.sip.register.registrar = "sip:r.example".into();
    c.sip.register.username = "u".into();
    c.sip.register.password = "p".into();
    c.sip.register.expires_s = 0;
    c.sip.register.retry_min_s = 0;
    has(&c, "sip.register.expires_s", "0 seconds");
    has(&c, "sip.register.retry_min_s", "tight loop");
    c.sip.register.retry_min_s = 90;
    has(&c, "sip.register.retry_max_s", "shorter");
}

#[test]
fn session_timer_minimum() {
    let mut c = Config::default();
    c.sip.session_expires_s = 89;
    has(&c, "sip.session_expires_s", "minimum of 90");
    c.sip.session_expires_s = 90;
    assert!(problems(&c).is_empty());
}

#[test]
fn codecs_empty_or_duplicate() {
    let mut c = Config::default();
    c.media.codecs = vec![];
    has(&c, "media.codecs", "no codecs");
    c.media.codecs = vec![Codec::PCMA, Codec::PCMU, Codec::PCMA];
    has(&c, "media.codecs", "PCMA is listed twice");
}

#[test]
fn opus_complexity_range() {
    let mut c = Config::default();
    c.media.opus_complexity = 0;
    assert!(problems(&c).is_empty());
    c.media.opus_complexity = 11;
    has(&c, "media.opus_complexity", "11 is not an Opus complexity");
}

#[test]
fn rtp_port_range() {
    let mut c = Config::default();
    c.media.rtp_port_min = 20000;
    c.media.rtp_port_max = 10000;
    has(&c, "media.rtp_port_min", "backwards");
    c.media.rtp_port_min = 0;
    has(&c, "media.rtp_port_min", "only one end");
    c.media.rtp_port_max = 0;
    assert!(problems(&c).is_empty());
}

#[test]
fn ivr_digits_attempts_and_timeouts() {
    let mut c = Config::default();
    c.ivr.room_id_min_digits = 6;
    c.ivr.room_id_max_digits = 4;
    has(&c, "ivr.room_id_min_digits", "min must not be above max");
    c.ivr.room_id_min_digits = 0;
    c.ivr.room_id_max_digits = 0;
    has(&c, "ivr.room_id_min_digits", "at least 1 digit");
    has(&c, "ivr.room_id_max_digits", "at least 1 digit");
    let mut c = Config::default();
    c.ivr.pin_max_digits = 0;
    c.ivr.max_attempts = 0;
    c.ivr.inter_digit_timeout_s = 0;
    c.ivr.overall_timeout_s = 0;
    assert_eq!(
        fields(&c),
        [
            "ivr.pin_max_digits",
            "ivr.max_attempts",
            "ivr.inter_digit_timeout_s",
            "ivr.overall_timeout_s"
        ]
    );
}

#[test]
fn unknown_language_folders() {
    let mut c = Config::default();
    c.ivr.language = "fr".into();
    c.routes = vec![
        Route {
            number: "1".into(),
            room: None,
            language: Some("de".into()),
            srtp: None,
        },
        Route {
            number: "2".into(),
            room: None,
            language: Some("xx".into()),
            srtp: None,
        },
        Route {
            number: "3".into(),
            room: None,
            language: Some("../en".into()),
            srtp: None,
        },
    ];
    has(&c, "ivr.language", "no prompts for language \"fr\"");
    has(&c, "routes[1].language", "\"xx\"");
    has(&c, "routes[2].language", "not a language name");
    assert_eq!(problems(&c).len(), 3);
    // Absolute prompt folders are used as they are.
    let base = TempBase::new("abs");
    c = Config::default();
    c.ivr.prompts_dir = base.0.join("prompts");
    assert!(
        c.validate_with_base(std::path::Path::new("/nonexistent"))
            .is_empty()
    );
}

#[test]
fn routes_duplicate_number_and_bad_room() {
    let c = Config {
        routes: vec![
            Route {
                number: "+4930".into(),
                room: Some("12a".into()),
                language: None,
                srtp: None,
            },
            Route {
                number: "+4930".into(),
                room: Some("1234".into()),
                language: None,
                srtp: None,
            },
            Route {
                number: " ".into(),
                room: None,
                language: None,
                srtp: None,
            },
        ],
        ..Config::default()
    };
    has(&c, "routes[0].room", "numeric room ID");
    has(&c, "routes[1].number", "more than one route");
    has(&c, "routes[2].number", "needs the called number");
    assert_eq!(problems(&c).len(), 3);
}

#[test]
fn rooms_ids_and_pins() {
    let room = |id: &str, pin: Option<&str>| RoomConfig {
        id: id.into(),
        name: String::new(),
        pin: pin.map(str::to_string),
        host_key: None,
    };
    let mut c = Config::default();
    c.conference.builtin.rooms = vec![
        room("12a4", None),
        room("1234", Some("12 4")),
        room("1234", Some("")),
        room("12", None),
        room("5678", Some("12345678901")),
    ];
    has(&c, "conference.builtin.rooms[0].id", "digits only");
    has(&c, "conference.builtin.rooms[1].pin", "digits only");
    has(&c, "conference.builtin.rooms[2].id", "defined twice");
    has(&c, "conference.builtin.rooms[2].pin", "digits only");
    has(&c, "conference.builtin.rooms[3].id", "could not reach it");
    has(&c, "conference.builtin.rooms[4].pin", "at most 10");
    assert_eq!(problems(&c).len(), 6);

    let mut short_key = room("4321", None);
    short_key.host_key = Some("abc".into());
    c.conference.builtin.rooms = vec![short_key];
    has(
        &c,
        "conference.builtin.rooms[0].host_key",
        "at least 16 characters",
    );
    assert_eq!(problems(&c).len(), 1);
}

#[test]
fn builtin_url_when_not_serving() {
    let mut c = Config::default();
    c.conference.builtin.serve = false;
    has(&c, "conference.builtin.url", "WebSocket URL is needed");
    c.conference.builtin.url = "http://x:8080".into();
    has(&c, "conference.builtin.url", "not a WebSocket URL");
    c.conference.builtin.url = "wss://x:8080/ws".into();
    assert!(problems(&c).is_empty());
    c.conference.builtin.url = "ws://10.0.0.5:8080/ws".into();
    assert!(problems(&c).is_empty());
}

#[test]
fn signaling_tls_files_and_ca_file() {
    let mut c = Config::default();
    c.conference.builtin.tls.cert = Some("/nonexistent/signaling.pem".into());
    has(&c, "conference.builtin.tls.key", "needs its private key");
    c.conference.builtin.tls.key = Some("/nonexistent/signaling.key".into());
    has(&c, "conference.builtin.tls.cert", "does not exist");
    let mut c = Config::default();
    c.conference.ca_file = Some("/nonexistent/ca.pem".into());
    has(&c, "conference.ca_file", "/nonexistent/ca.pem");
}

#[test]
fn trunk_nobody_could_call() {
    let mut c = Config::default();
    c.sip.trunk.allow.clear();
    has(&c, "sip.trunk.allow", "nobody could call");
    c.sip.trunk.username = "pbx".into();
    has(&c, "sip.trunk.password", "DIALBRIDGE_TRUNK_PASSWORD");
    c.sip.trunk.password = "pw".into();
    assert!(problems(&c).is_empty());
    // Register mode does not use the trunk settings.
    let mut c = Config::default();
    c.sip.trunk.allow.clear();
    c.sip.mode = SipMode::Register;
    assert!(!fields(&c).iter().any(|f| f.starts_with("sip.trunk")));
}

#[test]
fn max_calls_zero() {
    let mut c = Config::default();
    c.limits.max_calls = 0;
    has(&c, "limits.max_calls", "503");
}

#[test]
fn admission_limits_that_would_refuse_every_call() {
    let mut c = Config::default();
    c.limits.max_calls_per_source = 0;
    c.limits.invite_rate = 0.0;
    c.limits.invite_rate_per_source = f64::NAN;
    c.limits.invite_burst_per_source = 0;
    has(&c, "limits.max_calls_per_source", "503");
    has(&c, "limits.invite_rate", "above 0");
    has(&c, "limits.invite_rate_per_source", "above 0");
    has(&c, "limits.invite_burst_per_source", "burst");
    assert!(
        problems(&Config::default()).is_empty(),
        "the defaults are valid"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let mut c = Config::default();
    c.limits.max_calls = 0;
    c.ivr.max_attempts = 0;
    c.media.codecs.clear();
    assert_eq!(problems(&c).len(), 3);
}

#[test]
fn guessing_limits_that_stop_nobody_or_everybody() {
    let mut c = Config::default();
    c.guessing.max_wrong = 0;
    c.guessing.window_s = 0;
    c.guessing.lockout_s = 0;
    has(&c, "guessing.max_wrong", "at least 1");
    has(&c, "guessing.window_s", "600");
    has(&c, "guessing.lockout_s", "stops nobody");
    let mut c = Config::default();
    c.guessing.lockout_s = 600;
    c.guessing.lockout_max_s = 60;
    has(&c, "guessing.lockout_max_s", "shorter than the first one");
}

#[test]
fn guessing_section_parses() {
    let c = Config::from_toml_str(
        "[guessing]\nmax_wrong = 3\nwindow_s = 60\nlockout_s = 5\nlockout_max_s = 50\n\
         locked_call = \"reject\"\n",
    )
    .expect("a valid [guessing] section");
    assert_eq!(c.guessing.max_wrong, 3);
    assert_eq!(c.guessing.locked_call, crate::config::LockedCall::Reject);
    assert!(Config::from_toml_str("[guessing]\nlocked_call = \"hangup\"\n").is_err());
}

#[test]
fn warnings_name_what_works_but_needs_an_admin() {
    let warned =
        |c: &Config| -> Vec<String> { c.warnings().into_iter().map(|w| w.field).collect() };
    let mut c = Config::default();
    assert!(warned(&c).is_empty());
    c.sip.mode = SipMode::Register;
    assert_eq!(warned(&c), ["limits.trusted_sources"]);
    c.limits.trusted_sources = Some(Vec::new());
    assert!(warned(&c).is_empty());
    c.conference.builtin.tls.cert = Some("cert.pem".into());
    c.conference.builtin.tls.key = Some("key.pem".into());
    c.conference.builtin.serve = false;
    assert_eq!(warned(&c), ["conference.builtin.tls"]);
}

#[test]
fn srtp_policy_parses_per_route_and_required_without_tls_is_warned() {
    let c = Config::from_toml_str(
        "[media]\nsrtp = \"required\"\n[[routes]]\nnumber = \"1\"\nsrtp = \"off\"\n\
         [[routes]]\nnumber = \"2\"\nsrtp = \"required\"\n[[routes]]\nnumber = \"3\"\n",
    )
    .expect("valid config");
    use crate::sip::sdes::SrtpPolicy;
    assert_eq!(c.media.srtp, SrtpPolicy::Required);
    let routes: Vec<_> = c.routes.iter().map(|r| r.srtp).collect();
    assert_eq!(
        routes,
        [Some(SrtpPolicy::Off), Some(SrtpPolicy::Required), None]
    );
    assert!(problems(&c).is_empty(), "a working config: only warnings");
    let warned: Vec<String> = c.warnings().into_iter().map(|w| w.field).collect();
    assert_eq!(warned, ["media.srtp", "routes[1].srtp"]);
    assert!(c.warnings()[0].message.contains("[sip.tls]"));
    assert!(
        Config::default().warnings().is_empty(),
        "optional is not warned"
    );
    let e = Config::from_toml_str("[media]\nsrtp = \"mandatory\"\n").unwrap_err();
    assert!(e.to_string().contains("optional"), "{e}");
}

#[test]
fn drain_limit_and_retry_after() {
    let mut c = Config::default();
    c.drain.limit_s = 0;
    assert!(problems(&c).is_empty(), "a limit of 0 says goodbye at once");
    c.drain.limit_s = 100_000;
    c.drain.retry_after_s = 0;
    has(&c, "drain.limit_s", "more than a day");
    has(&c, "drain.retry_after_s", "between 1 and");
    let parsed = Config::from_toml_str("[drain]\nlimit_s = 3\n[admin]\nlisten = \"127.0.0.1:0\"\n")
        .expect("drain and admin parse");
    assert_eq!(parsed.drain.limit_s, 3);
    assert_eq!(parsed.drain.retry_after_s, 60);
    assert_eq!(parsed.admin.listen, Some("127.0.0.1:0".parse().unwrap()));
    assert!(
        Config::from_toml_str("[drain]\nlimit = 3\n").is_err(),
        "typos are errors"
    );
}
