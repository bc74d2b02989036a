#!/usr/bin/env python3
"""Markdown tables for BENCHMARKS.md from the bench's results files, so the report's figures are
copied by a program, not by hand:

    python3 bench/tables.py bench/results.json [bench/results-room1.json ...]

For each file: the load table (bridge beside Janus, cost over the codec floor, memory, join and
delay figures, quality, the bench's own CPU) and the memory table (idle, during, after, after a
second round)."""
import json
import sys


def f(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


def load_table(steps: list[dict]) -> list[str]:
    rows = [
        "| calls | bridge CPU, % of a core | per call | codec floor per call | cost / floor "
        "| Janus per call | bridge / Janus | machine CPU incl. bench | INVITE→200 p50 / p99 ms "
        "| `#`→audio burst p50 ms | single join ms | delay up / down p50 ms | WebRTC alone ms "
        "| jitter callers / peers ms | loss callers / peers % | bench CPU, % of a core |",
        "|" + "---|" * 16,
    ]
    for s in steps:
        janus = s.get("janus") or {}
        ok = s["calls_ok"]
        calls = f"{s['calls']}" if ok == s["calls"] else f"{s['calls']} ({ok} ok)"
        machine = (s["cpu_pct"] + s["harness_cpu_pct"]) / 2
        rows.append(
            f"| {calls} | {f(s['cpu_pct'])} | {f(s['cpu_pct_per_call'], 2)} % "
            f"| {f(s['floor_cpu_pct_per_call'], 2)} % | {f(s['cost_over_floor'], 2)}× "
            f"| {f(janus.get('cpu_pct_per_call', 0), 2)} % | {f(s['cost_over_janus'], 2)}× "
            f"| {f(machine)} % "
            f"| {f(s['invite_200_p50_ms'])} / {f(s['invite_200_p99_ms'])} "
            f"| {f(s['hash_to_audio_p50_ms'], 0)} | {f(s['join_under_load_ms'], 0)} "
            f"| {f(s['up_p50_ms'], 0)} / {f(s['down_p50_ms'], 0)} | {f(s['webrtc_p50_ms'], 0)} "
            f"| {f(s['jitter_caller_ms'], 2)} / {f(s['jitter_peer_ms'], 2)} "
            f"| {f(s['loss_caller_pct'], 2)} / {f(s['loss_peer_pct'], 2)} "
            f"| {f(s['harness_cpu_pct'])} |"
        )
    return rows


def memory_table(steps: list[dict]) -> list[str]:
    mb = lambda kb: f"{kb / 1024:.1f}"  # noqa: E731
    rows = [
        "| calls | RSS idle MB | during | per call | after | after a 2nd round "
        "| threads idle / during / after | fds idle / during / after | Janus RSS idle → during MB |",
        "|" + "---|" * 9,
    ]
    for s in steps:
        janus = s.get("janus") or {}
        rows.append(
            f"| {s['calls']} | {mb(s['idle_rss_kb'])} | {mb(s['rss_kb'])} "
            f"| {mb(s['rss_kb_per_call'])} | {mb(s['after_rss_kb'])} "
            f"| {mb(s['after_again_rss_kb'])} "
            f"| {s['idle_threads']} / {s['threads']} / {s['after_again_threads']} "
            f"| {s['idle_fds']} / {s['fds']} / {s['after_again_fds']} "
            f"| {mb(janus.get('idle_rss_kb', 0))} → {mb(janus.get('rss_kb', 0))} |"
        )
    return rows


def main() -> None:
    for path in sys.argv[1:]:
        with open(path) as fh:
            data = json.load(fh)
        print(f"### {path}: rooms of {data.get('room_size', 1)}; {data['stopped']}\n")
        print("\n".join(load_table(data["steps"])))
        print()
        print("\n".join(memory_table(data["steps"])))
        print()


if __name__ == "__main__":
    main()
