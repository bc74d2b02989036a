#!/bin/sh
# The load bench of dialbridge (BENCHMARKS.md): release build, then N concurrent calls through
# the real binary inside a private network namespace (root, or CAP_SYS_ADMIN for `unshare -n`).
#
#   bench/run.sh                  the whole report, as BENCHMARKS.md was made:
#                                 1. rooms of 5 callers + 1 web peer, steps up to 150, with
#                                    Janus AudioBridge measured beside each step
#                                 2. rooms of 1 and of 20 at a few steps
#                                 3. Opus settings: CPU and PESQ (bench/codec_quality.py)
#                                 4. the plot, bench/load.png
#   bench/run.sh --steps 2,10 …   one bench run with these arguments (see benches/load.rs)
#
# STEPS5, STEPS1, STEPS20 and WINDOW (seconds) override the report's steps and window.
set -eu
cd "$(dirname "$0")/.."
cargo build --release
if [ $# -gt 0 ]; then
    cargo bench --bench load -- "$@"
    exit
fi
python3 -m pip install --quiet matplotlib pesq numpy scipy
window=${WINDOW:-10}
run() {
    cargo bench --bench load -- --window "$window" --budget 5400 "$@"
}
run --room-size 5 --steps "${STEPS5:-2,10,25,50,75,100,125,150}" --out bench/results.json
run --room-size 1 --steps "${STEPS1:-10,25,50}" --out bench/results-room1.json
run --room-size 20 --steps "${STEPS20:-20,60,100}" --out bench/results-room20.json
python3 bench/codec_quality.py --out bench/codec_quality.json
python3 bench/plot.py bench/results.json bench/load.png
