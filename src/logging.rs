//! Process-wide logging and panic reporting, set up once by `main`: tracing to stderr as text or
//! JSON lines (filter from `RUST_LOG`), ezk's `log` records through [`crate::sip::ezk_log`], and a panic hook that
//! counts every panic in `dialbridge_panics_total` and logs it rate-limited, so a bug that bad
//! input can trigger cannot also flood the log.

use crate::sip::ezk_log::EzkInputLog;
use tracing_log::AsLog;
use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,ezk_sip_core=warn,ezk_sip_ua=warn";

/// How log lines look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colours on a terminal).
    #[default]
    Text,
    /// One JSON object per line for log shippers: `timestamp`, `level`, `target`, `message`,
    /// the event's fields, and `span` with the `call_id` of the call the line belongs to.
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let installed = match format {
        LogFormat::Text => tracing::subscriber::set_global_default(
            builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .finish(),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    };
    if installed.is_err() {
        return; // set up already (a second call)
    }
    let level = tracing::level_filters::LevelFilter::current().as_log();
    log::set_max_level(level.max(log::LevelFilter::Warn));
    let _ = log::set_boxed_logger(Box::new(EzkInputLog {
        inner: tracing_log::LogTracer::new(),
    }));
    std::panic::set_hook(Box::new(report_panic));
}

fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    crate::metrics::TASK_PANICS.inc();
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    if let Some(left_out) = crate::ratelog::admit("panic") {
        let backtrace = std::backtrace::Backtrace::capture();
        tracing::error!(left_out, %location, %backtrace, "panicked: {message}");
    }
}
