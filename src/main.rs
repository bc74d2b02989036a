//! The `dialbridge` command: `run` a configured bridge, `demo` everything on loopback with
//! built-in defaults, or `check-config` to explain what is wrong with a configuration file.

use anyhow::Context;
use clap::{Parser, Subcommand};
use dialbridge::config::Config;
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
    runtime.block_on(server::run(config, shutdown_signal(), move |bound| {
        announce(bound, demo)
    }))?;
    Ok(ExitCode::SUCCESS)
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
    println!(
        "READY sip={} signaling={signaling} sip_tls={tls}",
        bound.sip
    );
    if let Some(host_key) = demo {
        println!(
            "\ndialbridge demo is running.\n  Call in:   baresip, then `/dial sip:1234@{sip}` (or linphonec: `call sip:1234@{sip}`)\n  Rooms:     1234 (no PIN), 5678 (PIN 2468) — type the room ID then #\n  Host page: http://{signaling}/\n  As host:   http://{signaling}/?room=1234&name=Host&host_key={host_key}\n  Stop:      Ctrl-C\n",
            sip = bound.sip
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails outside a Unix process");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
}
