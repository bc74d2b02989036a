//! Registration with a SIP provider: REGISTER with digest auth (401 and 407), refresh before the
//! binding runs out, and recovery by itself when the registrar is down or says no — doubling
//! backoff up to a cap, never giving up, never panicking. Unregisters on shutdown.
//!
//! ezk's high-level `Registration` unwraps a transaction timeout (a registrar that does not
//! answer would panic us), so this drives ezk's lower-level register state and transactions.

use crate::metrics;
use ezk_sip_auth::{ClientAuthenticator, DigestAuthenticator, DigestCredentials, DigestUser};
use ezk_sip_auth::{RequestParts, ResponseParts};
use ezk_sip_core::Endpoint;
use ezk_sip_core::transport::TargetTransportInfo;
use ezk_sip_types::header::typed::Contact;
use ezk_sip_types::print::AppendCtx;
use ezk_sip_types::uri::{NameAddr, SipUri};
use ezk_sip_types::{Name, StatusCode};
use ezk_sip_ua::register::Registration as RegisterState;
use std::time::Duration;
use tokio::sync::watch;

/// Longest we wait for one REGISTER transaction (including its auth round).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest we wait for the un-REGISTER on shutdown.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub registrar: SipUri,
    pub username: String,
    pub auth_username: String,
    pub password: String,
    pub expires: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub contact: Contact,
}

#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("SIP transport: {0}")]
    Core(#[from] ezk_sip_core::Error),
    #[error("registrar rejected our credentials: {0}")]
    Auth(String),
    #[error("registrar answered {0}")]
    Status(u16),
    #[error("registrar did not answer within {0:?}")]
    Timeout(Duration),
}

/// Keeps the registration alive until `shutdown` turns true, then unregisters.
pub async fn run(
    endpoint: Endpoint,
    options: RegisterOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = NameAddr::uri(
        options
            .registrar
            .clone()
            .user(options.username.clone().into()),
    );
    let mut state = RegisterState::new(
        id,
        options.contact.clone(),
        options.registrar.clone(),
        options.expires,
    );
    let mut backoff = options.retry_min;
    let mut registered = false;

    loop {
        let wait = match attempt(&endpoint, &options, &mut state, false).await {
            Ok(granted) => {
                if !registered {
                    tracing::info!(registrar = %options.registrar.default_print_ctx(), expires_s = granted.as_secs(), "registered");
                }
                registered = true;
                metrics::REGISTERED.set(1);
                metrics::REGISTRATIONS.inc();
                backoff = options.retry_min;
                refresh_delay(granted)
            }
            Err(e) => {
                registered = false;
                metrics::REGISTERED.set(0);
                metrics::REGISTRATION_FAILURES.inc();
                tracing::warn!(registrar = %options.registrar.default_print_ctx(), error = %e, retry_in_s = backoff.as_secs_f32(), "registration failed");
                let wait = backoff;
                backoff = (backoff * 2).min(options.retry_max);
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = crate::shutdown::stopped(&mut shutdown) => break,
        }
    }

    if registered {
        match tokio::time::timeout(
            UNREGISTER_TIMEOUT,
            attempt(&endpoint, &options, &mut state, true),
        )
        .await
        {
            Ok(Ok(_)) => tracing::info!("unregistered"),
            Ok(Err(e)) => tracing::warn!(error = %e, "unregister failed"),
            Err(_) => tracing::warn!("unregister timed out"),
        }
    }
    metrics::REGISTERED.set(0);
}

/// Refresh well before expiry: at 3/4 of the granted time, at least 5 s.
fn refresh_delay(granted: Duration) -> Duration {
    (granted * 3 / 4).max(Duration::from_secs(5))
}

/// One REGISTER (with up to two auth rounds). Returns the granted expiry.
async fn attempt(
    endpoint: &Endpoint,
    options: &RegisterOptions,
    state: &mut RegisterState,
    remove: bool,
) -> Result<Duration, AttemptError> {
    tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        attempt_inner(endpoint, options, state, remove),
    )
    .await
    .map_err(|_| AttemptError::Timeout(ATTEMPT_TIMEOUT))?
}

async fn attempt_inner(
    endpoint: &Endpoint,
    options: &RegisterOptions,
    state: &mut RegisterState,
    remove: bool,
) -> Result<Duration, AttemptError> {
    let mut credentials = DigestCredentials::new();
    credentials.set_default(DigestUser::new(
        options.auth_username.clone(),
        options.password.clone().into_bytes(),
    ));
    let mut auth = DigestAuthenticator::new(credentials);
    // A fresh transport target each attempt: a TCP connection to a restarted registrar is dead.
    let mut target = TargetTransportInfo::default();

    for _round in 0..3 {
        let mut request = state.create_register(remove);
        request.headers.insert_named(endpoint.allowed());
        auth.authorize_request(&mut request.headers);
        let mut tsx = endpoint.send_request(request, &mut target).await?;
        let response = tsx.receive_final().await?;
        let code = response.line.code.into_u16();
        match code {
            200..=299 => return Ok(granted_expiry(&response.headers, options.expires)),
            401 | 407 => {
                let request = &tsx.request().msg;
                auth.handle_rejection(
                    RequestParts {
                        line: &request.line,
                        headers: &request.headers,
                        body: &request.body,
                    },
                    ResponseParts {
                        line: &response.line,
                        headers: &response.headers,
                        body: &response.body,
                    },
                )
                .map_err(|e| AttemptError::Auth(e.to_string()))?;
            }
            423 => {
                // Interval too brief: adopt the registrar's Min-Expires and retry at once.
                if !state.receive_error_response(response) {
                    return Err(AttemptError::Status(code));
                }
            }
            _ => return Err(AttemptError::Status(code)),
        }
    }
    Err(AttemptError::Status(StatusCode::UNAUTHORIZED.into_u16()))
}

/// The expiry the registrar granted: our Contact's `expires` param, else the Expires header,
/// else what we asked for.
fn granted_expiry(headers: &ezk_sip_types::Headers, requested: Duration) -> Duration {
    let from_contact = headers.get_raw(&Name::CONTACT).find_map(|c| {
        let lower = c.to_ascii_lowercase();
        let value = lower
            .split(';')
            .find_map(|p| p.trim().strip_prefix("expires="))?;
        value
            .trim_matches(|ch: char| !ch.is_ascii_digit())
            .parse::<u64>()
            .ok()
    });
    let from_header = headers
        .get_raw(&Name::EXPIRES)
        .find_map(|e| e.trim().parse::<u64>().ok());
    from_contact
        .or(from_header)
        .map(Duration::from_secs)
        .filter(|d| !d.is_zero())
        .unwrap_or(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_before_expiry() {
        assert_eq!(
            refresh_delay(Duration::from_secs(300)),
            Duration::from_secs(225)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(4)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn expiry_prefers_contact_param() {
        let mut h = ezk_sip_types::Headers::new();
        h.insert(Name::CONTACT, "<sip:bridge@127.0.0.1:5070>;expires=60");
        h.insert(Name::EXPIRES, "120");
        assert_eq!(
            granted_expiry(&h, Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        let mut h = ezk_sip_types::Headers::new();
        h.insert(Name::EXPIRES, "120");
        assert_eq!(
            granted_expiry(&h, Duration::from_secs(300)),
            Duration::from_secs(120)
        );
        assert_eq!(
            granted_expiry(&ezk_sip_types::Headers::new(), Duration::from_secs(300)),
            Duration::from_secs(300)
        );
    }
}
