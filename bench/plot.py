#!/usr/bin/env python3
"""Plots bench/results.json: dialbridge CPU% (of one core) and caller-side packet loss
against the number of concurrent calls. Needs matplotlib (pip install matplotlib)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "bench/load.png"
    with open(src) as f:
        data = json.load(f)
    steps = data["steps"]
    calls = [s["calls"] for s in steps]
    cpu = [s["cpu_pct"] for s in steps]
    floor = [s["idle_cpu_pct"] + s["floor_cpu_pct_per_call"] * s["calls_ok"] for s in steps]
    loss = [s["loss_pct"] for s in steps]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(calls, cpu, "o-", color="tab:blue", label="dialbridge CPU")
    ax.plot(calls, floor, "s--", color="tab:green", label="codec floor (GStreamer only)")
    harness = [s["harness_cpu_pct"] for s in steps]
    ax.plot(calls, harness, "x:", color="tab:gray", label="bench process (callers + peers)")
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("CPU, % of one core")
    ax2 = ax.twinx()
    ax2.plot(calls, loss, "^:", color="tab:red", label="packet loss at caller")
    ax2.set_ylabel("loss, %")
    ax2.set_ylim(bottom=0, top=max(2.0, max(loss, default=0) * 1.2))
    m = data["machine"]
    ax.set_title(f"dialbridge load: {m['nproc']} x {m['cpu_model']}", fontsize=9)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
