//! The `dialbridge` command: `run` a configured bridge, `demo` everything on loopback with
//! built-in defaults, `check-config` to explain what is wrong with a configuration file, or
//! `drain` a running bridge through its admin endpoint.

use anyhow::Context;
use clap::{Parser, Subcommand};
use dialbridge::config::Config;
use dialbridge::drain::Request;
use dialbridge::logging::LogFormat;
use dialbridge::server::{self, Bound};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "SIP-to-WebRTC dial-in bridge: phone callers join conferences by room ID"
)]
struct Cli {
    /// Configuration file (TOML); see dialbridge.example.toml. Secrets may come from
    /// DIALBRIDGE_SIP_PASSWORD, DIALBRIDGE_TRUNK_PASSWORD and DIALBRIDGE_SIGNALING_SECRET.
    #[arg(long, short, global = true, env = "DIALBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines on stderr: `text`, or `json` (one object per line, with the call's call_id).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "DIALBRIDGE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge with the configuration file.
    Run,
    /// Run everything on loopback with the built-in demo configuration (no file needed).
    Demo,
    /// Check the configuration file and explain every problem found.
    CheckConfig,
    /// Ask the bridge running with this configuration to drain (`POST /admin/drain` on
    /// `[admin] listen`, else on the signaling server): it takes no new calls, lets running
    /// calls finish up to `drain.limit_s`, then exits.
    Drain,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    dialbridge::logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dialbridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match (&cli.command, &cli.config) {
        (Command::Demo, _) => demo_config(),
        (_, Some(path)) => Config::load(path)?,
        (_, None) => {
            anyhow::bail!("no configuration file: pass --config FILE (or try `dialbridge demo`)")
        }
    };
    let base = cli
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let config = resolve_paths(config, &base);
    let problems = config.validate();
    if !problems.is_empty() {
        eprintln!(
            "dialbridge: the configuration has {} problem(s):",
            problems.len()
        );
        for p in &problems {
            eprintln!("  - {p}");
        }
        return Ok(ExitCode::from(2));
    }
    if let Command::Drain = cli.command {
        return drain(&config);
    }
    if let Command::CheckConfig = cli.command {
        for warning in config.warnings() {
            println!("warning: {warning}");
        }
        println!(
            "configuration OK ({:?} mode, SIP on {})",
            config.sip.mode, config.sip.listen
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The demo's host link (stdout, never the log): room 1234's host key.
    let demo = matches!(cli.command, Command::Demo).then(|| {
        config.conference.builtin.rooms[0]
            .host_key
            .clone()
            .unwrap_or_default()
    });
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (tx, signals) = tokio::sync::mpsc::channel(4);
        tokio::spawn(forward_signals(tx));
        server::run(config, signals, move |bound| announce(bound, demo)).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `dialbridge drain`: asks the running bridge over HTTP and says what it answered.
fn drain(config: &Config) -> anyhow::Result<ExitCode> {
    let builtin = &config.conference.builtin;
    let serves = config.conference.backend == dialbridge::config::ConferenceBackendKind::Builtin
        && builtin.serve;
    let addr = match config.admin.listen {
        Some(addr) => addr,
        None if serves && builtin.tls.listener().is_none() => builtin.listen,
        None => anyhow::bail!(
            "this configuration has no plain-HTTP admin endpoint to ask: set [admin] listen \
             (e.g. \"127.0.0.1:9090\"), restart the bridge, or send it SIGTERM instead"
        ),
    };
    let addr = loopback_for_wildcard(addr);
    let (status, body) =
        dialbridge::drain::http::request_drain(addr, std::time::Duration::from_secs(5))
            .with_context(|| format!("cannot reach the bridge's admin endpoint on {addr}"))?;
    match status {
        200 | 202 => {
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
        _ => anyhow::bail!("the bridge on {addr} answered HTTP {status}: {body}"),
    }
}

/// The drain endpoint answers loopback clients only: a wildcard listen address is asked on
/// loopback.
fn loopback_for_wildcard(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, addr.port())
}

/// The demo config, with a fresh host key for each room (printed with the host page's address).
fn demo_config() -> Config {
    let mut config = Config::demo();
    for room in &mut config.conference.builtin.rooms {
        room.host_key = Some(dialbridge::signaling::rooms::new_host_key());
    }
    config
}

/// Where the Debian package puts the prompts: the last place a relative `ivr.prompts_dir` is
/// looked for, so the example config and `demo` work from any directory once installed.
const DATA_DIR: &str = "/usr/share/dialbridge";

/// Relative paths in the config are relative to its file. The prompts folder is looked for in
/// the working directory (a checkout keeps it there), beside the config file, in [`DATA_DIR`],
/// and last in the source tree the binary was built from (so `demo` runs from anywhere).
fn resolve_paths(mut config: Config, base: &Path) -> Config {
    let dir = &config.ivr.prompts_dir;
    if dir.is_relative() && !dir.exists() {
        let beside_config = base.join(dir);
        let installed = Path::new(DATA_DIR).join(dir);
        let build_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let candidates = [beside_config, installed, build_tree];
        if let Some(found) = candidates.into_iter().find(|d| d.exists()) {
            config.ivr.prompts_dir = found;
        }
    }
    let tls = &mut config.sip.tls;
    let conference = &mut config.conference;
    for path in [
        &mut tls.cert,
        &mut tls.key,
        &mut tls.client_ca,
        &mut tls.ca_file,
        &mut conference.ca_file,
        &mut conference.builtin.tls.cert,
        &mut conference.builtin.tls.key,
    ]
    .into_iter()
    .flatten()
    {
        if path.is_relative() {
            *path = base.join(&*path);
        }
    }
    config
}

/// Prints the machine-readable READY line (tests wait for it) and, for the demo (given room
/// 1234's host key), how to call.
fn announce(bound: Bound, demo: Option<String>) {
    let signaling = bound
        .signaling
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    let tls = bound
        .sip_tls
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    let admin = bound
        .admin
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    println!(
        "READY sip={} signaling={signaling} sip_tls={tls} admin={admin}",
        bound.sip
    );
    if let Some(host_key) = demo {
        println!(
            "\ndialbridge demo is running.\n  Call in:   baresip, then `/dial sip:1234@{sip}` (or linphonec: `call sip:1234@{sip}`)\n  Rooms:     1234 (no PIN), 5678 (PIN 2468) — type the room ID then #\n  Host page: http://{signaling}/\n  As host:   http://{signaling}/?room=1234&name=Host&host_key={host_key}\n  Stop:      Ctrl-C\n",
            sip = bound.sip
        );
    }
}

/// SIGTERM starts a drain; a second SIGTERM, or SIGINT (Ctrl-C), hangs up at once.
async fn forward_signals(tx: tokio::sync::mpsc::Sender<Request>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails outside a Unix process");
        let mut int = signal(SignalKind::interrupt())
            .expect("installing a SIGINT handler only fails outside a Unix process");
        let mut terms = 0;
        loop {
            let request = tokio::select! {
                _ = term.recv() => {
                    terms += 1;
                    if terms == 1 { Request::Drain } else { Request::StopNow }
                }
                _ = int.recv() => Request::StopNow,
            };
            tracing::info!(?request, "signal received");
            if tx.send(request).await.is_err() {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    while tokio::signal::ctrl_c().await.is_ok() {
        if tx.send(Request::StopNow).await.is_err() {
            return;
        }
    }
}
