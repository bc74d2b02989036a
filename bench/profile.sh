#!/bin/sh
# Where the bridge's CPU goes in a bench step's steady window: perf samples (cpu-clock, 499 Hz;
# this VM has no hardware counters) of the bridge process only, grouped by library and by
# thread.
#   bench/profile.sh BIN OUT_DIR [bench arguments, e.g. --steps 50 --room-size 5]
# The window is made 30 s long; perf records 20 s of it.
set -eu
bin=$1 out=$2
shift 2
cd "$(dirname "$0")/.."
mkdir -p "$out"
cargo bench --bench load --no-run
DIALBRIDGE_BIN=$bin cargo bench --bench load -- --no-janus --window 30 \
    --out "$out/step.json" "$@" 2> "$out/bench.log" &
bench=$!
until pid=$(sed -n 's/^steady window: bridge pid \([0-9]*\).*/\1/p' "$out/bench.log") && [ -n "$pid" ]; do
    kill -0 "$bench" 2>/dev/null || { echo "the bench ended before its window" >&2; exit 1; }
    sleep 1
done
perf record -e cpu-clock -F 499 -p "$pid" -o "$out/perf.data" -- sleep 20 2> /dev/null
wait "$bench"
perf report -i "$out/perf.data" --no-children --sort dso --stdio 2> /dev/null \
    | grep -v '^#' | grep -v '^$' | head -25 > "$out/by-library.txt"
perf report -i "$out/perf.data" --no-children --sort comm --stdio 2> /dev/null \
    | grep -v '^#' | grep -v '^$' | head -15 > "$out/by-thread.txt"
cat "$out/by-library.txt" "$out/by-thread.txt"
