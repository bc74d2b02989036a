//! The supervisor: starts the SIP endpoint, the registration (register mode), the built-in
//! signaling server (when configured), and one actor per accepted call. It caps calls with a
//! semaphore (503 beyond `limits.max_calls`) and drains on request ([`crate::drain`] decides:
//! refuse new calls, unregister, let calls finish up to the limit, say goodbye, exit).

use crate::call::guard::SipGuessing;
use crate::call::{self, CallContext, MediaSettings};
use crate::conference::ConferenceBackend;
use crate::conference::builtin::BuiltinBackend;
use crate::conference::janus::{JanusBackend, JanusOptions, JanusPlugin};
use crate::conference::nextcloud::NextcloudBackend;
use crate::config::{ConferenceBackendKind, Config, JanusPluginKind, SipMode};
use crate::drain::http::Control;
use crate::drain::shell::Flags;
use crate::drain::{Drain, Request};
use crate::ivr::machine::IvrConfig;
use crate::media::prompts::PromptSet;
use crate::shutdown::stopped;
use crate::sip::admission::AdmissionControl;
use crate::sip::endpoint::{self, Contacts, EndpointOptions, TlsOptions};
use crate::sip::entry::EntryOptions;
use crate::sip::gate::Gate;
use crate::sip::register::{self, RegisterOptions};
use crate::tls::ServerCert;
use crate::{media, metrics, signaling};
use ezk_sip_types::uri::SipUriUserPart;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Admitted calls waiting for the supervisor to start their task; beyond this the entry layer
/// answers 503 at once. Each already holds a call slot, so this only absorbs a burst.
const CALL_QUEUE_CAPACITY: usize = 256;
/// How long the exit waits for the unregistration and the listeners to finish.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error(transparent)]
    Endpoint(#[from] endpoint::EndpointError),
    #[error("cannot listen for the admin endpoints on {addr}: {source}")]
    Admin {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for the signaling server on {addr}: {source}")]
    Signaling {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid registrar URI {0:?}")]
    Registrar(String),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Cdr(#[from] crate::cdr::sink::CdrOpenError),
    #[error("conference.nextcloud: {0}")]
    Nextcloud(String),
}

/// Where the running bridge can be reached; printed as the READY line.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub sip: SocketAddr,
    pub sip_tls: Option<SocketAddr>,
    pub signaling: Option<SocketAddr>,
    /// The admin endpoints of `[admin] listen`.
    pub admin: Option<SocketAddr>,
}

/// Runs the bridge until a drain or stop (from `signals` or `POST /admin/drain`) has ended
/// every call. `ready` is called once everything listens.
pub async fn run(
    config: Config,
    mut signals: mpsc::Receiver<Request>,
    ready: impl FnOnce(Bound),
) -> Result<(), ServerError> {
    media::init()?;
    media::warm_up_dtls();
    let config = Arc::new(config);
    // Stop: hang up at once and close the listeners. Leave: unregister. Goodbye: the drain
    // limit is reached.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (leave_tx, leave_rx) = watch::channel(false);
    let (goodbye_tx, goodbye_rx) = watch::channel(false);
    let (control, mut http_requests) = Control::new(config.drain.limit_s);

    let mut prompts = HashMap::new();
    let languages = std::iter::once(&config.ivr.language)
        .chain(config.routes.iter().filter_map(|r| r.language.as_ref()));
    for lang in languages {
        if !prompts.contains_key(lang) {
            let set = PromptSet::load(&config.ivr.prompts_dir, lang)?;
            prompts.insert(lang.clone(), Arc::new(set));
        }
    }

    let (call_tx, mut call_rx) = mpsc::channel(CALL_QUEUE_CAPACITY);
    let slots = Arc::new(Semaphore::new(config.limits.max_calls));
    let trusted = match config.sip.mode {
        SipMode::Trunk => config.sip.trunk.allow.clone(),
        SipMode::Register => Vec::new(),
    };
    let guess_trusted = config.limits.trusted_sources.clone();
    let guessing = SipGuessing::new(
        &config.guessing,
        guess_trusted.unwrap_or_else(|| trusted.clone()),
    );
    let entry = EntryOptions {
        admission: AdmissionControl::new(config.limits.clone(), &trusted),
        gate: Gate::new(&config, slots.clone()),
        calls: call_tx,
        retry_after: Duration::from_secs(config.limits.retry_after_s.into()),
        draining: control.flag(),
        drain_retry_after: Duration::from_secs(config.drain.retry_after_s.into()),
    };
    let public_host = Some(config.sip.public_address.clone()).filter(|s| !s.is_empty());
    let (tls, sip_cert) = sip_tls_options(&config.sip.tls)?;
    let sip = endpoint::start(
        EndpointOptions {
            listen: config.sip.listen,
            tcp: config.sip.tcp,
            public_host,
            user_agent: config.sip.user_agent.clone(),
            tls,
        },
        entry,
    )
    .await?;
    tracing::info!(addr = %sip.local, tcp = config.sip.tcp, tls = ?sip.tls_local, mode = ?config.sip.mode, "SIP listening");
    let builtin = &config.conference.builtin;
    let builtin_backend = config.conference.backend == ConferenceBackendKind::Builtin;
    let client_tls = crate::tls::client_config(config.conference.ca_file.as_deref())?;
    let serve_signaling = builtin.serve && builtin_backend;
    let secret = Some(builtin.secret.clone()).filter(|s| !s.is_empty());
    // What the bridge authenticates with: the secret, or for our own server without one a
    // random token, so the guessing limit of web clients never counts the bridge's requests.
    let bridge_token = match &secret {
        None if serve_signaling => Some(random_token()),
        other => other.clone(),
    };
    let (signaling_addr, builtin_client, signaling_cert) = if serve_signaling {
        let dial_in = format!("sip:{}", sip.local);
        let state = signaling::SignalingState::new(&builtin.rooms, Arc::new(metrics::render))
            .with_secret(secret)
            .with_bridge_token(bridge_token.clone())
            .with_guessing_limit(&config.guessing)
            .with_dial_in(dial_in);
        let admin_routes = crate::drain::http::routes(control.clone());
        let served = start_signaling(builtin, state, admin_routes, stop_rx.clone())?;
        let client = BuiltinBackend::new(served.url, bridge_token);
        let client = match &served.cert {
            // Our own server: trust exactly the certificate it serves (see tls::pinned).
            Some(cert) => client.with_tls(crate::tls::pinned_client_config(cert.clone())?),
            None => client,
        };
        (Some(served.addr), client, served.cert)
    } else {
        let client = BuiltinBackend::new(builtin.url.clone(), secret).with_tls(client_tls.clone());
        (None, client, None)
    };
    let mut stop = stop_rx.clone();
    let certs: Vec<_> = sip_cert.into_iter().chain(signaling_cert).collect();
    tokio::spawn(crate::tls::reload_on_sighup(certs, async move {
        stopped(&mut stop).await
    }));
    let backend: Arc<dyn ConferenceBackend> = match config.conference.backend {
        ConferenceBackendKind::Builtin => Arc::new(builtin_client),
        ConferenceBackendKind::Janus => {
            let janus = &config.conference.janus;
            let plugin = match janus.plugin {
                JanusPluginKind::VideoRoom => JanusPlugin::VideoRoom,
                JanusPluginKind::AudioBridge => JanusPlugin::AudioBridge,
            };
            tracing::info!(url = %janus.url, ?plugin, "rooms are Janus rooms");
            let options = JanusOptions::new(janus.url.clone(), plugin)
                .with_credentials(&janus.api_secret, &janus.token)
                .with_tls(client_tls);
            Arc::new(JanusBackend::new(options))
        }
        ConferenceBackendKind::Nextcloud => {
            let n = &config.conference.nextcloud;
            let backend = NextcloudBackend::from_config(n, client_tls);
            Arc::new(backend.map_err(ServerError::Nextcloud)?)
        }
    };

    let mut background = JoinSet::new();
    if config.sip.mode == SipMode::Register {
        let options = register_options(&config, &sip.contacts)?;
        background.spawn(register::run(sip.endpoint.clone(), options, leave_rx));
    }
    let admin = match config.admin.listen {
        Some(addr) => Some(
            crate::drain::http::start_admin(addr, control.clone(), stop_rx.clone())
                .await
                .map_err(|source| ServerError::Admin { addr, source })?,
        ),
        None => None,
    };

    let mut ctx = call_context(&config, &sip, prompts, backend, guessing, goodbye_rx);
    ctx.cdr = crate::cdr::CdrSink::configured(&config.cdr)?;
    let ctx = Arc::new(ctx);
    ready(Bound {
        sip: sip.local,
        sip_tls: sip.tls_local,
        signaling: signaling_addr,
        admin,
    });

    let mut calls = JoinSet::new();
    let mut drain = Drain::new(Duration::from_secs(config.drain.limit_s.into()));
    let flags = Flags {
        control,
        leave: leave_tx,
        goodbye: goodbye_tx,
        stop: stop_tx,
        limit_s: config.drain.limit_s,
    };
    'supervise: loop {
        while let Some(action) = drain.poll_action() {
            if !flags.carry_out(action, calls.len()) {
                break 'supervise;
            }
        }
        let deadline = drain.poll_timeout();
        tokio::select! {
            Some(admitted) = call_rx.recv() => {
                calls.spawn(call::actor::run(ctx.clone(), admitted, stop_rx.clone()));
                drain.calls_changed(calls.len());
            }
            Some(ended) = calls.join_next(), if !calls.is_empty() => {
                // A panic was counted and logged by the panic hook; its call's slot, source
                // ticket, gauge and media were released by their drop guards during unwinding.
                if let Err(e) = ended {
                    tracing::error!(error = %e, "a call task ended abnormally");
                }
                drain.calls_changed(calls.len());
            }
            Some(request) = signals.recv() => drain.request(request, Instant::now()),
            Some(request) = http_requests.recv() => drain.request(request, Instant::now()),
            _ = sleep_until(deadline) => drain.handle_timeout(Instant::now()),
        }
    }

    if !calls.is_empty() {
        tracing::warn!(
            calls = calls.len(),
            "some calls did not end in time; aborting them"
        );
        calls.shutdown().await;
    }
    tracing::info!(
        calls_active = metrics::CALLS_ACTIVE.get(),
        "all calls ended; exiting"
    );
    flags.exit();
    let unregister = async { while background.join_next().await.is_some() {} };
    if tokio::time::timeout(EXIT_TIMEOUT, unregister)
        .await
        .is_err()
    {
        tracing::warn!("unregistering did not finish in time");
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The built-in signaling server this process runs.
struct ServedSignaling {
    addr: SocketAddr,
    /// Where the bridge itself connects: `ws://` or, with a certificate, `wss://`.
    url: String,
    /// The HTTPS/wss certificate, reloaded on SIGHUP.
    cert: Option<Arc<ServerCert>>,
}

/// Binds and spawns the built-in signaling server and host page; with
/// `[conference.builtin.tls]` they are served over HTTPS and `wss://` only.
fn start_signaling(
    builtin: &crate::config::BuiltinConfig,
    state: signaling::SignalingState,
    admin_routes: axum::Router,
    stop: watch::Receiver<bool>,
) -> Result<ServedSignaling, ServerError> {
    let io_error = |source| ServerError::Signaling {
        addr: builtin.listen,
        source,
    };
    let listener = signaling::bind(builtin.listen).map_err(io_error)?;
    let addr = listener.local_addr().map_err(io_error)?;
    let Some(files) = builtin.tls.listener() else {
        spawn_signaling(listener, state, admin_routes, stop);
        tracing::info!(%addr, "signaling server and host page listening (http, ws)");
        let url = signaling::ws_url(addr);
        return Ok(ServedSignaling {
            addr,
            url,
            cert: None,
        });
    };
    let cert = ServerCert::load(files)?;
    // axum here speaks HTTP/1.1 only; browsers that offer h2 fall back to it.
    let tls = crate::tls::server_config(cert.clone(), None, &[b"http/1.1"])?;
    let listener = signaling::tls_listener::listen(listener, tls).map_err(io_error)?;
    spawn_signaling(listener, state, admin_routes, stop);
    tracing::info!(%addr, "signaling server and host page listening (https, wss)");
    Ok(ServedSignaling {
        addr,
        url: signaling::wss_url(addr),
        cert: Some(cert),
    })
}

fn spawn_signaling<L>(
    listener: L,
    state: signaling::SignalingState,
    admin_routes: axum::Router,
    mut stop: watch::Receiver<bool>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> SocketAddr: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    tokio::spawn(async move {
        let shutdown = async move { stopped(&mut stop).await };
        if let Err(e) = signaling::serve_with(listener, state, admin_routes, shutdown).await {
            tracing::error!(error = %e, "signaling server stopped");
        }
    });
}

/// 128 random bits as hex: the bridge token of our own signaling server.
fn random_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

/// Outgoing TLS always (a `sips:` registrar needs it); the listener when a certificate is set.
fn sip_tls_options(
    t: &crate::config::SipTlsConfig,
) -> Result<(TlsOptions, Option<Arc<ServerCert>>), ServerError> {
    let client = crate::tls::client_config(t.ca_file.as_deref())?;
    let Some(files) = t.listener() else {
        return Ok((
            TlsOptions {
                listen: None,
                client,
            },
            None,
        ));
    };
    let cert = ServerCert::load(files)?;
    let server = crate::tls::server_config(cert.clone(), t.client_ca.as_deref(), &[])?;
    let listen = Some((server, t.port));
    Ok((TlsOptions { listen, client }, Some(cert)))
}

fn register_options(config: &Config, contacts: &Contacts) -> Result<RegisterOptions, ServerError> {
    let r = &config.sip.register;
    let registrar: ezk_sip_types::uri::SipUri = r
        .registrar
        .parse()
        .map_err(|_| ServerError::Registrar(r.registrar.clone()))?;
    let over_tls = registrar
        .uri_params
        .get_val("transport")
        .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
    let contact = match (&contacts.sips, &contacts.tls) {
        (Some(sips), _) if registrar.sips => sips,
        (_, Some(tls)) if over_tls => tls,
        _ => &contacts.plain,
    };
    let auth_username = if r.auth_username.is_empty() {
        r.username.clone()
    } else {
        r.auth_username.clone()
    };
    let mut contact = contact.clone();
    contact.uri.uri.user_part = SipUriUserPart::User(r.username.clone().into());
    Ok(RegisterOptions {
        registrar,
        username: r.username.clone(),
        auth_username,
        password: r.password.clone(),
        expires: Duration::from_secs(r.expires_s.into()),
        retry_min: Duration::from_secs(r.retry_min_s.into()),
        retry_max: Duration::from_secs(r.retry_max_s.into()),
        contact,
    })
}

fn call_context(
    config: &Config,
    sip: &endpoint::SipEndpoint,
    prompts: HashMap<String, Arc<PromptSet>>,
    backend: Arc<dyn ConferenceBackend>,
    guessing: Arc<SipGuessing>,
    goodbye: watch::Receiver<bool>,
) -> CallContext {
    let i = &config.ivr;
    CallContext {
        endpoint: sip.endpoint.clone(),
        contacts: sip.contacts.clone(),
        early: sip.early.clone(),
        media: MediaSettings::from_config(&config.media),
        ivr: IvrConfig {
            room_id_min_digits: i.room_id_min_digits as usize,
            room_id_max_digits: i.room_id_max_digits as usize,
            pin_max_digits: i.pin_max_digits as usize,
            max_attempts: i.max_attempts,
            inter_digit_timeout: Duration::from_secs(i.inter_digit_timeout_s.into()),
            overall_timeout: Duration::from_secs(i.overall_timeout_s.into()),
        },
        prompts,
        backend,
        session_expires_s: config.sip.session_expires_s,
        mask_caller_id: config.caller_id.mask,
        caller_id_visible_tail: config.caller_id.visible_tail as usize,
        guessing,
        goodbye,
        backend_name: config.conference.backend.name(),
        cdr: None,
    }
}
