//! The `[conference.nextcloud]` checks: the signaling server's WebSocket URL, Nextcloud's URL,
//! and both secrets, each explained with where an admin finds it.

use super::Problems;
use crate::config::{ENV_NEXTCLOUD_BACKEND_SECRET, ENV_NEXTCLOUD_INTERNAL_SECRET, NextcloudConfig};

pub(super) fn nextcloud(n: &NextcloudConfig, p: &mut Problems) {
    let url = n.signaling_url.trim().to_ascii_lowercase();
    if url.is_empty() {
        p.add(
            "conference.nextcloud.signaling_url",
            "backend = \"nextcloud\" needs the WebSocket address of the High Performance Backend \
             (nextcloud-spreed-signaling), e.g. \"wss://signaling.example.com/spreed\"",
        );
    } else if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        p.add(
            "conference.nextcloud.signaling_url",
            format!(
                "{:?} is not a WebSocket URL; it starts with ws:// or wss:// (the address Talk's \
                 admin settings list under \"High-performance backend\", with /spreed at the end)",
                n.signaling_url
            ),
        );
    }
    let backend = n.backend_url.trim().to_ascii_lowercase();
    if !(backend.starts_with("http://") || backend.starts_with("https://")) || backend.len() < 10 {
        p.add(
            "conference.nextcloud.backend_url",
            "needs Nextcloud's address as the signaling server's [backend] section lists it, \
             e.g. \"https://cloud.example.com/\"",
        );
    }
    if n.internal_secret.is_empty() {
        p.add(
            "conference.nextcloud.internal_secret",
            format!(
                "needs the signaling server's [clients] internalsecret (from server.conf), or \
                 set {ENV_NEXTCLOUD_INTERNAL_SECRET}"
            ),
        );
    }
    if n.backend_secret.is_empty() {
        p.add(
            "conference.nextcloud.backend_secret",
            format!(
                "needs Talk's SIP bridge shared secret (Talk admin settings, \"SIP \
                 configuration\"), or set {ENV_NEXTCLOUD_BACKEND_SECRET}"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConferenceBackendKind, Config};

    fn fields(c: &Config) -> Vec<String> {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        c.validate_with_base(base)
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn nextcloud_needs_urls_and_secrets() {
        let mut c = Config::demo();
        c.conference.backend = ConferenceBackendKind::Nextcloud;
        let missing = fields(&c);
        for field in [
            "signaling_url",
            "backend_url",
            "internal_secret",
            "backend_secret",
        ] {
            let field = format!("conference.nextcloud.{field}");
            assert!(missing.contains(&field), "{field} in {missing:?}");
        }
        let n = &mut c.conference.nextcloud;
        n.signaling_url = "https://signaling.example/spreed".into();
        n.backend_url = "https://cloud.example/".into();
        n.internal_secret = "a".into();
        n.backend_secret = "b".into();
        assert_eq!(fields(&c), vec!["conference.nextcloud.signaling_url"]);
        c.conference.nextcloud.signaling_url = "wss://signaling.example/spreed".into();
        assert_eq!(fields(&c), Vec::<String>::new());
    }
}
