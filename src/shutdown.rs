//! The stop flag every long-running task watches: a `watch::Receiver<bool>` that turns `true`
//! once on shutdown. [`stopped`] completes then (or when the sender is gone). Depends on nothing
//! else in the crate, so `call`, `sip` and `signaling` use it without importing the supervisor.

use tokio::sync::watch;

/// Completes once the stop flag is set (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send; drop it before any other await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
