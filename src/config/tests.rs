//! Parsing, environment overrides, the example file and the demo config.

use std::path::PathBuf;

use super::*;
use crate::media::codec::Codec;

const EXAMPLE: &str = include_str!("../../dialbridge.example.toml");

/// A throwaway base directory with `prompts/en` and `prompts/de`, removed on drop.
pub(super) struct TempBase(pub PathBuf);

impl TempBase {
    pub fn new(tag: &str) -> TempBase {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("dialbridge-cfg-{tag}-{}-{n}", std::process::id()));
        for lang in ["en", "de"] {
            std::fs::create_dir_all(dir.join("prompts").join(lang)).expect("temp dir is writable");
        }
        TempBase(dir)
    }
}

impl Drop for TempBase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
}

#[test]
fn example_file_is_the_default_plus_its_demo_room() {
    let parsed = Config::from_toml_str(EXAMPLE).unwrap();
    let mut expected = Config::default();
    expected.conference.builtin.rooms = vec![RoomConfig {
        id: "1234".into(),
        name: "Demo room".into(),
        pin: None,
        host_key: None,
    }];
    assert_eq!(parsed, expected);
}

#[test]
fn example_file_validates_clean() {
    let base = TempBase::new("example");
    let parsed = Config::from_toml_str(EXAMPLE).unwrap();
    let problems = parsed.validate_with_base(&base.0);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn example_file_validates_against_the_repo_prompts() {
    let parsed = Config::from_toml_str(EXAMPLE).unwrap();
    let problems = parsed.validate_with_base(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn demo_config_validates_clean() {
    let base = TempBase::new("demo");
    let demo = Config::demo();
    assert!(
        demo.validate_with_base(&base.0).is_empty(),
        "{:#?}",
        demo.validate_with_base(&base.0)
    );
    assert_eq!(demo.sip.listen, "127.0.0.1:5060".parse().unwrap());
    assert_eq!((demo.media.rtp_port_min, demo.media.rtp_port_max), (0, 0));
    assert_eq!(
        demo.conference.builtin.rooms[1].pin.as_deref(),
        Some("2468")
    );
}

#[test]
fn full_tree_parses() {
    let c = Config::from_toml_str(
        r#"
        [sip]
        mode = "register"
        listen = "[::1]:5070"
        [sip.trunk]
        allow = ["10.0.0.1", "192.0.2.0/24", "2001:db8::/32"]
        [sip.register]
        registrar = "sip:sip.example.com"
        username = "alice"
        password = "pw"
        [media]
        codecs = ["PCMU"]
        rtp_bind = "127.0.0.1"
        [limits]
        max_calls = 5
        [[conference.builtin.rooms]]
        id = "5678"
        pin = "2468"
        [[routes]]
        number = "+4930123456"
        room = "1234"
        language = "de"
        [[routes]]
        number = "100"
        "#,
    )
    .unwrap();
    assert_eq!(c.sip.mode, SipMode::Register);
    assert_eq!(c.sip.listen, "[::1]:5070".parse().unwrap());
    let allow: Vec<String> = c.sip.trunk.allow.iter().map(|n| n.to_string()).collect();
    assert_eq!(allow, ["10.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"]);
    assert_eq!(c.media.codecs, [Codec::PCMU]);
    assert_eq!(c.limits.max_calls, 5);
    assert_eq!(c.conference.builtin.rooms[0].name, "");
    assert_eq!(c.routes[0].room.as_deref(), Some("1234"));
    assert_eq!(
        c.routes[1],
        Route {
            number: "100".into(),
            room: None,
            language: None,
            srtp: None,
        }
    );
}

fn parse_err(s: &str) -> (Option<usize>, String) {
    match Config::from_toml_str(s).unwrap_err() {
        e @ ConfigError::Parse { line, .. } => (line, e.to_string()),
        other => panic!("expected a parse error, got {other}"),
    }
}

#[test]
fn unknown_field_is_an_error_with_line_and_section() {
    let (line, text) = parse_err("[sip]\nmode = \"trunk\"\nmdoe = \"trunk\"\n");
    assert_eq!(line, Some(3));
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("[sip]"), "{text}");
    assert!(text.contains("mdoe"), "{text}");
    assert!(text.contains("unknown field"), "{text}");
}

#[test]
fn unknown_field_in_a_room_is_an_error() {
    let (line, text) = parse_err("[[conference.builtin.rooms]]\nid = \"1\"\npn = \"2\"\n");
    assert_eq!(line, Some(3));
    assert!(text.contains("pn"), "{text}");
}

#[test]
fn wrong_type_is_an_error() {
    let (line, text) = parse_err("[limits]\nmax_calls = \"many\"\n");
    assert_eq!(line, Some(2));
    assert!(text.contains("invalid type"), "{text}");
}

#[test]
fn bad_values_are_errors() {
    assert!(parse_err("[sip]\nmode = \"peer\"\n").1.contains("peer"));
    assert!(
        parse_err("[sip]\nlisten = \"localhost\"\n")
            .1
            .contains("line 2")
    );
    assert!(
        parse_err("[media]\ncodecs = [\"OPUS\"]\n")
            .1
            .contains("OPUS")
    );
    let (line, text) = parse_err("[sip.trunk]\nallow = [\"10.0.0.x\"]\n");
    assert_eq!(line, Some(2));
    assert!(
        text.contains("neither an IP address nor a network"),
        "{text}"
    );
    assert!(parse_err("this is not toml").0.is_some());
}

#[test]
fn load_names_the_file() {
    let base = TempBase::new("load");
    let path = base.0.join("dialbridge.toml");
    std::fs::write(&path, "[ivr]\nlanguage = 5\n").unwrap();
    let text = Config::load(&path).unwrap_err().to_string();
    assert!(text.contains("dialbridge.toml line 2"), "{text}");
    let missing = base.0.join("missing.toml");
    let text = Config::load(&missing).unwrap_err().to_string();
    assert!(text.contains("missing.toml"), "{text}");
    std::fs::write(&path, "[limits]\nmax_calls = 7\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().limits.max_calls, 7);
}

#[test]
fn env_wins_over_file() {
    let mut c = Config::from_toml_str(
        "[sip.register]\npassword = \"file\"\n[sip.trunk]\npassword = \"file\"\n",
    )
    .unwrap();
    c.apply_env(|name| match name {
        ENV_SIP_PASSWORD => Some("env-sip".into()),
        ENV_SIGNALING_SECRET => Some("env-secret".into()),
        ENV_TRUNK_PASSWORD => Some(String::new()),
        ENV_NEXTCLOUD_INTERNAL_SECRET => Some("env-internal".into()),
        ENV_NEXTCLOUD_BACKEND_SECRET => Some("env-backend".into()),
        _ => None,
    });
    assert_eq!(c.conference.nextcloud.internal_secret, "env-internal");
    assert_eq!(c.conference.nextcloud.backend_secret, "env-backend");
    assert_eq!(c.sip.register.password, "env-sip");
    assert_eq!(c.conference.builtin.secret, "env-secret");
    // An empty variable does not wipe the file's value.
    assert_eq!(c.sip.trunk.password, "file");
}

#[test]
fn debug_hides_secrets() {
    let mut c = Config::default();
    c.sip.register.password = "hunter2".into();
    c.sip.trunk.password = "hunter3".into();
    c.conference.builtin.secret = "hunter4".into();
    c.conference.janus.api_secret = "hunter5".into();
    c.conference.nextcloud.internal_secret = "hunter8".into();
    c.conference.nextcloud.backend_secret = "hunter9".into();
    c.conference.builtin.rooms = vec![RoomConfig {
        id: "1234".into(),
        name: "Board".into(),
        pin: Some("hunter6".into()),
        host_key: Some("hunter7".into()),
    }];
    let text = format!("{c:?}");
    assert!(!text.contains("hunter"), "{text}");
    assert!(text.contains("<redacted>"));
}
