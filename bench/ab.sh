#!/bin/sh
# A/B of two dialbridge builds with the same harness, runs interleaved (old, new, old, new …) so
# that the shared machine's drift hits both alike:
#   bench/ab.sh OLD_BIN NEW_BIN ROUNDS OUT_DIR [bench arguments, e.g. --steps 20 --window 15]
# Each run is one `cargo bench --bench load` with DIALBRIDGE_BIN set (no Janus step); the
# summary (bench/ab_summary.py) prints both builds' medians side by side. OLD_MEDIA / NEW_MEDIA
# (lines for the bridge's [media]) compare settings of one build, e.g.
#   NEW_MEDIA='opus_complexity = 0' bench/ab.sh BIN BIN 2 /tmp/ab-c0 --steps 20
set -eu
old=$1 new=$2 rounds=$3 out=$4
shift 4
cd "$(dirname "$0")/.."
mkdir -p "$out"
cargo bench --bench load --no-run
for round in $(seq "$rounds"); do
    for build in old new; do
        if [ "$build" = old ]; then
            bin=$old media=${OLD_MEDIA:-}
        else
            bin=$new media=${NEW_MEDIA:-}
        fi
        DIALBRIDGE_BIN=$bin cargo bench --bench load -- --no-janus --media "$media" \
            --out "$out/$build-$round.json" "$@"
    done
done
python3 bench/ab_summary.py "$out"
