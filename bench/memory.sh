#!/bin/sh
# What a bench step leaves allocated in the bridge, traced with heaptrack (Debian package
# `heaptrack`): the bridge runs with heaptrack's preload library, the step makes its two rounds
# of calls and waits until they ended, then the harness kills the bridge; every allocation still
# live then is in the report. Two steps of different sizes tell what grows with the calls.
#   bench/memory.sh BIN OUT_DIR [bench arguments, e.g. --steps 10 --room-size 5]
set -eu
bin=$(readlink -f "$1") out=$(readlink -f "$2")
shift 2
cd "$(dirname "$0")/.."
mkdir -p "$out"
lib=/usr/lib/heaptrack
[ -x "$lib/libexec/heaptrack_interpret" ] || { echo "apt install heaptrack" >&2; exit 1; }
# The bridge must keep the wrapper's pid (the harness reads /proc and kills it), so the wrapper
# starts heaptrack's reader on a FIFO and execs the bridge with the preload library.
cat > "$out/traced-bridge" <<WRAP
#!/bin/sh
fifo=$out/fifo.\$\$
mkfifo "\$fifo"
"$lib/libexec/heaptrack_interpret" < "\$fifo" | gzip > "$out/heaptrack.\$\$.gz" &
LD_PRELOAD=$lib/libheaptrack_preload.so DUMP_HEAPTRACK_OUTPUT=\$fifo exec "$bin" "\$@"
WRAP
chmod +x "$out/traced-bridge"
cargo bench --bench load --no-run
DIALBRIDGE_BIN=$out/traced-bridge cargo bench --bench load -- --no-janus \
    --out "$out/step.json" "$@" 2> "$out/bench.log"
sleep 2
rm -f "$out"/fifo.*
for trace in "$out"/heaptrack.*.gz; do
    heaptrack_print -f "$trace" --print-leaks 1 --print-peaks 0 --print-allocators 0 \
        --print-temporary 0 > "${trace%.gz}.txt" 2>&1 || true
    grep -E "^(total runtime|calls to allocation|peak heap|total memory leaked)" \
        "${trace%.gz}.txt" || true
done
