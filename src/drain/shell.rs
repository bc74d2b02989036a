//! The drain's thin I/O shell: turns each [`DrainAction`] into the supervisor's `watch` flags
//! (draining, unregister, goodbye, stop) and logs it. No decisions here; [`super::Drain`] makes
//! them.

use tokio::sync::watch;

use super::DrainAction;
use super::http::Control;

/// The flags the supervisor's tasks watch, and who reads the draining flag.
pub struct Flags {
    pub control: Control,
    /// The registration task unregisters when it turns true.
    pub leave: watch::Sender<bool>,
    /// Answered calls play the closing prompt and hang up when it turns true.
    pub goodbye: watch::Sender<bool>,
    /// Every call hangs up, and every listener stops, when it turns true.
    pub stop: watch::Sender<bool>,
    /// `drain.limit_s`, for the log.
    pub limit_s: u32,
}

impl Flags {
    /// Carries out `action` with `calls` calls running; false once it is time to exit.
    pub fn carry_out(&self, action: DrainAction, calls: usize) -> bool {
        match action {
            DrainAction::StopAccepting => {
                tracing::info!(
                    calls,
                    limit_s = self.limit_s,
                    "draining: new calls get 503, running calls may finish"
                );
                self.control.set_draining();
                let _ = self.leave.send(true);
            }
            DrainAction::SayGoodbye => {
                tracing::info!(calls, "drain limit reached: saying goodbye");
                let _ = self.goodbye.send(true);
            }
            DrainAction::HangUpNow => {
                tracing::info!(calls, "stopping: hanging up calls");
                let _ = self.stop.send(true);
            }
            DrainAction::Exit => return false,
        }
        true
    }

    /// Stops whatever still runs: the registration (if a stop skipped the drain) and the
    /// listeners.
    pub fn exit(&self) {
        let _ = self.leave.send(true);
        let _ = self.stop.send(true);
    }
}
