//! Where records go: [`CdrSink`] appends JSON lines to a file or stdout, flushing each one.
//! [`CallRecorder`] holds one call's record and writes it exactly once: when told to, or on
//! drop (an early return or a panic in the call task still leaves its record).

use super::{CallRecord, EndReason, Quality};
use crate::config::CdrConfig;
use crate::metrics;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The record file (or stdout), shared by all calls; one line is written under the lock, so
/// lines of concurrent calls never interleave.
pub struct CdrSink {
    out: Mutex<Box<dyn Write + Send>>,
    label: String,
}

impl CdrSink {
    /// Opens `path` for appending (created if missing); `-` is stdout.
    pub fn open(path: &str) -> std::io::Result<CdrSink> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(open_append(Path::new(path))?)
        };
        Ok(CdrSink {
            out: Mutex::new(out),
            label: path.to_string(),
        })
    }

    /// Writes one record as one line and flushes. A failed write is logged, not fatal: the call
    /// it describes is over either way.
    pub fn write(&self, record: &CallRecord) {
        let mut line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "call record not serialisable");
                return;
            }
        };
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|_| out.flush()) {
            tracing::error!(error = %e, cdr = %self.label, "call record not written");
        }
    }
}

/// `cdr.path` could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the call record file {path} (cdr.path): {source}")]
pub struct CdrOpenError {
    pub path: String,
    pub source: std::io::Error,
}

impl CdrSink {
    /// The sink `[cdr]` asks for; `None` when records are off.
    pub fn configured(config: &CdrConfig) -> Result<Option<Arc<CdrSink>>, CdrOpenError> {
        let Some(path) = &config.path else {
            return Ok(None);
        };
        let sink = CdrSink::open(path).map_err(|source| CdrOpenError {
            path: path.clone(),
            source,
        })?;
        tracing::info!(%path, "writing call records");
        Ok(Some(Arc::new(sink)))
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// One call's record in the making; see the module docs.
pub struct CallRecorder {
    pub record: CallRecord,
    sink: Option<Arc<CdrSink>>,
    done: bool,
}

impl CallRecorder {
    /// `sink` `None`: records are off, but metrics still count the call's end.
    pub fn new(record: CallRecord, sink: Option<Arc<CdrSink>>) -> Self {
        CallRecorder {
            record,
            sink,
            done: false,
        }
    }

    /// Finishes the record with `reason`, counts it in the metrics and writes it. Only the first
    /// call counts; later ones (and the drop) do nothing.
    pub fn end(&mut self, reason: EndReason, detail: String) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.record.finish(reason, detail);
        metrics::CALLS_ENDED.inc(reason.label());
        let q = &self.record.quality;
        for (direction, quality) in [
            ("phone_to_bridge", &q.phone_to_bridge),
            ("bridge_to_phone", &q.bridge_to_phone),
            ("room_to_bridge", &q.room_to_bridge),
            ("bridge_to_room", &q.bridge_to_room),
        ] {
            if let Some(quality) = quality {
                observe(direction, quality);
            }
        }
        if let Some(sink) = &self.sink {
            sink.write(&self.record);
        }
    }
}

fn observe(direction: &str, q: &Quality) {
    metrics::CALL_MOS.observe(direction, q.mos);
    metrics::CALL_JITTER_MS.observe(direction, q.jitter_ms);
    metrics::CALL_LOSS_RATIO.observe(direction, q.loss_pct / 100.0);
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        // Not ended in order: the task panicked (a bug), or was dropped while the process stops.
        if std::thread::panicking() {
            let detail = "the call task failed (a bug; the log says where)";
            self.end(EndReason::Other, detail.into());
        } else {
            self.end(EndReason::Shutdown, "the call task was stopped".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_call_once_even_on_drop() {
        let dir = std::env::temp_dir().join(format!("cdr-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("calls.jsonl");
        let _ = std::fs::remove_file(&path);
        let sink = Arc::new(CdrSink::open(path.to_str().unwrap()).unwrap());
        let record = CallRecord::new("a@b".into(), "1000".into(), None, "builtin");
        let mut ended = CallRecorder::new(record.clone(), Some(sink.clone()));
        ended.end(EndReason::CallerHangup, "caller hung up".into());
        ended.end(EndReason::Shutdown, "again".into());
        drop(ended);
        drop(CallRecorder::new(record, Some(sink)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["end_reason"], "caller_hangup");
        assert_eq!(lines[0]["ended_by"], "caller");
        assert_eq!(lines[1]["end_reason"], "shutdown");
        assert!(lines[0]["quality"]["bridge_to_phone"].is_null());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_path_is_an_error() {
        assert!(CdrSink::open("/nonexistent-dir/calls.jsonl").is_err());
    }
}
