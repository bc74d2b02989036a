//! Counters of the signaling server and the `/metrics` text (Prometheus text format 0.0.4).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Extra metrics text appended to `/metrics`, e.g. the call counters of the bridge. It must
/// return complete Prometheus text lines (`# HELP`, `# TYPE`, samples), each ending in `\n`.
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_active: AtomicU64,
    pub connections_total: AtomicU64,
    pub messages_total: AtomicU64,
    pub errors_total: AtomicU64,
    /// Unsolicited messages dropped because the recipient's mailbox was full or closed.
    pub dropped_messages: AtomicU64,
}

/// Gauges read from the room registry at scrape time.
pub struct RegistryGauges {
    pub rooms: usize,
    pub participants: usize,
}

impl Metrics {
    pub fn render(&self, gauges: RegistryGauges, extra: Option<&ExtraMetrics>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        };
        metric(
            "signaling_connections_active",
            "gauge",
            "Open WebSocket connections.",
            get(&self.connections_active),
        );
        metric(
            "signaling_connections_total",
            "counter",
            "WebSocket connections accepted since start.",
            get(&self.connections_total),
        );
        metric(
            "signaling_messages_total",
            "counter",
            "Client messages received.",
            get(&self.messages_total),
        );
        metric(
            "signaling_errors_total",
            "counter",
            "Error replies sent to clients.",
            get(&self.errors_total),
        );
        metric(
            "signaling_dropped_messages_total",
            "counter",
            "Messages dropped because a client's queue was full.",
            get(&self.dropped_messages),
        );
        metric(
            "signaling_rooms",
            "gauge",
            "Rooms in memory.",
            gauges.rooms as u64,
        );
        metric(
            "signaling_participants",
            "gauge",
            "Participants joined to rooms.",
            gauges.participants as u64,
        );
        if let Some(extra) = extra {
            let text = extra();
            out.push_str(&text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_extra_text() {
        let m = Metrics::default();
        m.messages_total.fetch_add(3, Ordering::Relaxed);
        let extra: ExtraMetrics = Arc::new(|| "calls_active 2".to_string());
        let text = m.render(
            RegistryGauges {
                rooms: 2,
                participants: 0,
            },
            Some(&extra),
        );
        assert!(
            text.contains("# TYPE signaling_messages_total counter\nsignaling_messages_total 3\n")
        );
        assert!(text.contains("signaling_rooms 2\n"));
        assert!(text.ends_with("calls_active 2\n"));
    }
}
