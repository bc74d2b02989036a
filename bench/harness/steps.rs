//! The step loop: N = 2, 10, 25, … until quality breaks (loss > 1 %, the bridge and the bench
//! together above 90 % of the machine, or a call that never got into its room) or the time budget runs out. Writes the
//! JSON after every step, so a killed run keeps what it measured.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Plan, Step, machine, run_step};

/// Runs `steps` as `plan` says and writes `out` (JSON). Returns why it stopped.
pub fn run_all(steps: &[usize], plan: &Plan, budget: Duration, out: &str, dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("creating the bench folder");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let mut results = Vec::new();
    let mut stopped = "all steps done".to_string();
    for &calls in steps {
        if started.elapsed() > budget {
            stopped = format!("time budget {budget:?} ran out before {calls} calls");
            break;
        }
        eprintln!("== {calls} calls in rooms of {}", plan.room_size);
        match run_step(rt.handle(), dir, calls, plan) {
            Ok(step) => {
                eprintln!(
                    "{}",
                    serde_json::to_string_pretty(&step).expect("plain data")
                );
                let broke = step.quality.loss_caller_pct.max(step.quality.loss_peer_pct) > 1.0
                    || step.cpu_machine_pct + step.harness_cpu_pct / nproc() > 90.0
                    || step.calls_ok < calls;
                results.push(step);
                write(out, &results, &stopped, plan);
                if broke {
                    stopped = format!("quality broke at {calls} calls");
                    break;
                }
            }
            Err(e) => {
                stopped = format!("step {calls} failed: {e}");
                break;
            }
        }
    }
    write(out, &results, &stopped, plan);
    eprintln!("{stopped}; results in {out}");
    stopped
}

/// Cores of this machine.
fn nproc() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

fn write(out: &str, results: &[Step], stopped: &str, plan: &Plan) {
    let json = serde_json::json!({
        "machine": machine(),
        "window_s": plan.window.as_secs_f64(),
        "room_size": plan.room_size,
        "stopped": stopped,
        "steps": results,
    });
    std::fs::write(
        out,
        serde_json::to_string_pretty(&json).expect("plain data"),
    )
    .expect("writing the results");
}
