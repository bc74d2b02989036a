//! The environment variables that override secrets in the file, named once for loading
//! (`config.rs`), validation messages and the docs.

/// Environment variable that overrides `sip.register.password`.
pub const ENV_SIP_PASSWORD: &str = "DIALBRIDGE_SIP_PASSWORD";
/// Environment variable that overrides `sip.trunk.password`.
pub const ENV_TRUNK_PASSWORD: &str = "DIALBRIDGE_TRUNK_PASSWORD";
/// Environment variable that overrides `conference.builtin.secret`.
pub const ENV_SIGNALING_SECRET: &str = "DIALBRIDGE_SIGNALING_SECRET";
/// Overrides `conference.janus.api_secret`.
pub const ENV_JANUS_API_SECRET: &str = "DIALBRIDGE_JANUS_API_SECRET";
/// Overrides `conference.janus.token`.
pub const ENV_JANUS_TOKEN: &str = "DIALBRIDGE_JANUS_TOKEN";
/// Overrides `conference.nextcloud.internal_secret`.
pub const ENV_NEXTCLOUD_INTERNAL_SECRET: &str = "DIALBRIDGE_NEXTCLOUD_INTERNAL_SECRET";
/// Overrides `conference.nextcloud.backend_secret`.
pub const ENV_NEXTCLOUD_BACKEND_SECRET: &str = "DIALBRIDGE_NEXTCLOUD_BACKEND_SECRET";
