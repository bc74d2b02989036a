//! `Debug` for the config sections that hold secrets: shows whether a secret is set, never its
//! value, so a logged config leaks no password.

use std::fmt;

use super::{BuiltinConfig, RegisterConfig, RoomConfig, TrunkConfig};

/// Passwords must not end up in logs, so `Debug` shows whether one is set, not its value.
fn redact(s: &str) -> &'static str {
    if s.is_empty() { "" } else { "<redacted>" }
}

impl fmt::Debug for TrunkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrunkConfig")
            .field("allow", &self.allow)
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("realm", &self.realm)
            .finish()
    }
}

impl fmt::Debug for RegisterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterConfig")
            .field("registrar", &self.registrar)
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("auth_username", &self.auth_username)
            .field("expires_s", &self.expires_s)
            .field("retry_min_s", &self.retry_min_s)
            .field("retry_max_s", &self.retry_max_s)
            .finish()
    }
}

impl fmt::Debug for BuiltinConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinConfig")
            .field("listen", &self.listen)
            .field("serve", &self.serve)
            .field("url", &self.url)
            .field("secret", &redact(&self.secret))
            .field("rooms", &self.rooms)
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Debug for RoomConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_deref().map(redact);
        f.debug_struct("RoomConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("pin", &hidden(&self.pin))
            .field("host_key", &hidden(&self.host_key))
            .finish()
    }
}
