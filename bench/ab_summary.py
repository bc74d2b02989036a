#!/usr/bin/env python3
"""Summary of a bench/ab.sh run: for each figure, the median over the rounds of the old build
and of the new one, and new/old. Reads OUT_DIR/{old,new}-N.json (one step each)."""
import json
import statistics
import sys
from pathlib import Path

FIGURES = [
    ("cpu_pct_per_call", "bridge CPU per call, % of a core"),
    ("cost_over_floor", "cost / codec floor"),
    ("threads", "threads"),
    ("rss_kb_per_call", "RSS per call, kB"),
    ("hash_to_audio_p50_ms", "# → audio, burst p50, ms"),
    ("join_under_load_ms", "# → audio, single join, ms"),
    ("up_p50_ms", "delay caller → room p50, ms"),
    ("down_p50_ms", "delay room → caller p50, ms"),
    ("jitter_caller_ms", "jitter at callers, ms"),
    ("jitter_peer_ms", "jitter at peers, ms"),
    ("harness_cpu_pct", "bench process CPU, % of a core"),
]


def steps(out: Path, build: str) -> list[dict]:
    runs = sorted(out.glob(f"{build}-*.json"))
    return [s for r in runs for s in json.loads(r.read_text())["steps"]]


def main() -> None:
    out = Path(sys.argv[1])
    old, new = steps(out, "old"), steps(out, "new")
    if not old or not new:
        raise SystemExit(f"ab_summary: no complete runs in {out}")
    print(f"| {len(old)} + {len(new)} runs | old | new | new/old |")
    print("|---|---|---|---|")
    for key, label in FIGURES:
        a = statistics.median(s[key] for s in old)
        b = statistics.median(s[key] for s in new)
        ratio = f"{b / a:.2f}" if a else "-"
        print(f"| {label} | {a:.2f} | {b:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
