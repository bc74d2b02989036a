#!/bin/sh
# Load bench of dialbridge: release build, then N concurrent calls (steps) through the real
# binary inside a private network namespace (needs root or CAP_SYS_ADMIN for `unshare -n`).
# Writes bench/results.json and bench/load.png. Extra arguments go to the bench, e.g.
#   bench/run.sh --steps 2,10,25,50,100 --window 10 --budget 900
set -eu
cd "$(dirname "$0")/.."
cargo build --release
cargo bench --bench load -- "$@"
python3 bench/plot.py bench/results.json bench/load.png
