#!/usr/bin/env python3
"""Plots bench/results.json against the number of concurrent calls: dialbridge CPU% (of one
core) with the codec floor, Janus AudioBridge with the same callers, and the bench's own CPU on
top; packet loss at both sides and the one-way delay in both directions and the jitter both
sides saw below. Needs matplotlib (pip install matplotlib)."""
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
    fig, (ax, q) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    ax.plot(calls, cpu, "o-", color="tab:blue", label="dialbridge CPU")
    ax.plot(calls, floor, "s--", color="tab:green", label="codec floor (GStreamer only)")
    janus = [(s["calls"], s["janus"]["cpu_pct"]) for s in steps if s.get("janus")]
    if janus:
        ax.plot(*zip(*janus), "D-", color="tab:orange", label="Janus AudioBridge, same callers")
    harness = [s["harness_cpu_pct"] for s in steps]
    ax.plot(calls, harness, "x:", color="tab:gray", label="bench process (callers + peers)")
    ax.set_ylabel("CPU, % of one core")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)

    for key, style, label in [
        ("up_p50_ms", "o-", "delay caller → room (p50)"),
        ("down_p50_ms", "s-", "delay room → caller (p50)"),
        ("webrtc_p50_ms", "x:", "delay WebRTC only, no bridge (p50)"),
        ("jitter_caller_ms", "d--", "jitter at callers (median)"),
        ("jitter_peer_ms", "h--", "jitter at room peers (median)"),
    ]:
        q.plot(calls, [s.get(key, 0) for s in steps], style, label=label)
    q.set_xlabel("concurrent calls")
    q.set_ylabel("one-way delay and jitter, ms")
    q.set_ylim(bottom=0)
    q2 = q.twinx()
    loss_c = [s.get("loss_caller_pct", 0) for s in steps]
    loss_p = [s.get("loss_peer_pct", 0) for s in steps]
    q2.plot(calls, loss_c, "^:", color="tab:red", label="loss at callers")
    q2.plot(calls, loss_p, "v:", color="tab:purple", label="loss at room peers")
    q2.set_ylabel("loss, %")
    q2.set_ylim(bottom=0, top=max(2.0, max(loss_c + loss_p, default=0) * 1.2))
    lines = q.get_legend_handles_labels()
    lines2 = q2.get_legend_handles_labels()
    q.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    q.grid(alpha=0.3)
    m = data["machine"]
    rooms = data.get("room_size") or 1
    title = f"dialbridge load, rooms of {rooms} callers + 1 web peer: {m['nproc']} x {m['cpu_model']}"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
