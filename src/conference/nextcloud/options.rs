//! [`NextcloudOptions`]: how the backend reaches Talk and its signaling server. A file of its
//! own so that the backend (`mod.rs`) and the session shell (`session.rs`) both use it without
//! importing each other.

use std::sync::Arc;
use std::time::Duration;

/// How to reach Talk and its signaling server.
#[derive(Clone)]
pub struct NextcloudOptions {
    /// `ws(s)://host/…/spreed` of spreed-signaling.
    pub signaling_url: String,
    /// spreed-signaling's `[clients] internalsecret`.
    pub internal_secret: String,
    /// The Nextcloud URL as spreed-signaling's backend list names it (`[backend]`/`url`),
    /// sent in the hello; also the base of Talk's API.
    pub backend_url: String,
    /// Talk's SIP bridge shared secret (admin settings, "SIP configuration"): signs the room
    /// lookups.
    pub backend_secret: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub timeout: Duration,
}

/// Says which secrets are set, never what they are.
impl std::fmt::Debug for NextcloudOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextcloudOptions")
            .field("signaling_url", &self.signaling_url)
            .field("backend_url", &self.backend_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
