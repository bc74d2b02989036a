"""Opus encoder settings side by side: CPU and speech quality (issue 13).

What it measures, for media.opus_complexity in {0, 2, 5, 8, 10} x media.opus_dtx in
{false, true}, on the bridge's own pipeline descriptions:

* CPU: the CPU time (user + system, from getrusage(RUSAGE_CHILDREN)) that gst-launch-1.0
  spends transcoding one caller's voice both ways -- G.711 decode, the conference send
  description (Opus encode, RTP payload), the conference receive description (depayload,
  Opus decode, resample), G.711 encode -- over >= --seconds of speech fed as fast as it goes.
  Median of three runs, as % of one core per call, and as a ratio to complexity 10 without DTX.
  Process start-up (plugin loading) is included; it is the same for every setting.
* Quality: PESQ narrowband MOS-LQO (the `pesq` package) of the decoded output against the
  clip after G.711 alone, so the score isolates what Opus does at that setting. The G.711
  reference against the original clip is printed for scale.
* Packets: Opus RTP packets per second and payload kbit/s out of the payloader, counted with
  an `identity silent=false` after it. With DTX the bridge's rtpopuspay drops the encoder's
  1-2 byte silence frames, so DTX shows as fewer packets; any tiny ones left are counted too.

The speech clip is espeak-ng (two voices, fixed text and speed) resampled by sox to 8 kHz mono
16-bit. The chain is rendered from pipelines/conference-send.txt and conference-recv.txt the way
bench/harness/floor.rs does it; the script fails with a clear message if they changed shape.

Usage: python3 bench/codec_quality.py [--out bench/codec_quality.json] [--seconds 120]
Needs: espeak-ng, sox, gst-launch-1.0, and `pip install pesq numpy scipy`. No network.
"""

import argparse
import json
import math
import re
import resource
import shlex
import statistics
import subprocess
import tempfile
from pathlib import Path

try:
    import numpy as np
    from pesq import pesq
    from scipy.io import wavfile
except ImportError as missing:
    raise SystemExit(f"codec_quality: {missing}; run: pip install pesq numpy scipy")

REPO = Path(__file__).resolve().parent.parent
SEND_TEMPLATE = REPO / "pipelines" / "conference-send.txt"
RECV_TEMPLATE = REPO / "pipelines" / "conference-recv.txt"
RATE = 8000  # PESQ narrowband, and the G.711 caller's rate
PCM_CAPS = f"audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate={RATE}"
COMPLEXITIES = (0, 2, 5, 8, 10)
REPEATS = 3
RTP_HEADER_BYTES = 12
DTX_PAYLOAD_BYTES = 2  # libopus DTX frames are 1-2 bytes; speech frames are far larger
# (voice, sentences): fixed text, voices and speed keep the clip the same on every run.
SPEECH = (
    ("en", ["Thank you for calling. Please hold while we connect you to the meeting.",
            "The quarterly numbers look better than expected, but shipping is still late."]),
    ("en+f3", ["Good morning everyone. Let's start with a quick round of updates.",
               "Seven, eight, nine. The code is four one six two, then press the hash key."]),
)
PAUSE_S = 0.8  # silence between sentences, where DTX has something to do


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    """Runs a tool, failing with its stderr."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def wav_seconds(path: Path) -> float:
    """How long a WAV file plays."""
    rate, samples = wavfile.read(path)
    return len(samples) / rate


def make_clip(work: Path) -> Path:
    """Speaks SPEECH with espeak-ng and leaves it as 8 kHz mono 16-bit clip.wav."""
    parts = []
    for voice, sentences in SPEECH:
        for sentence in sentences:
            said, part = work / "said.wav", work / f"part{len(parts)}.wav"
            run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(said), sentence])
            # espeak's own pause after a sentence is short; a caller's pauses are not.
            # -D: no dither, so the clip is bit-identical from run to run.
            run(["sox", "-D", str(said), str(part), "pad", "0", str(PAUSE_S)])
            parts.append(str(part))
    clip = work / "clip.wav"
    run(["sox", "-D", *parts, "-r", str(RATE), "-c", "1", "-b", "16", str(clip)])
    return clip


def repeat_clip(clip: Path, seconds: float) -> Path:
    """The clip concatenated with itself until it lasts at least `seconds`."""
    times = max(1, math.ceil(seconds / wav_seconds(clip)))
    long = clip.with_name("long.wav")
    run(["sox", "-D", *[str(clip)] * times, str(long)])
    return long


def render(template: Path, values: dict[str, str]) -> str:
    """Strips comment lines and fills {placeholders}, as src/media/pipeline.rs render() does."""
    lines = [l.strip() for l in template.read_text().splitlines()]
    text = " ".join(l for l in lines if l and not l.startswith("#"))

    def fill(match: re.Match) -> str:
        if match[1] not in values:
            raise SystemExit(f"{template.name}: unknown placeholder {{{match[1]}}}")
        return values[match[1]]

    return re.sub(r"\{([a-z_][a-z0-9_]*)\}", fill, text)


def rewrite(pattern: str, replacement: str, text: str, what: str) -> str:
    """Replaces exactly one match of `pattern`, or says which template changed shape."""
    new, count = re.subn(pattern, replacement, text, count=1)
    if count != 1:
        raise SystemExit(f"{what} not found; did the template change shape?\n  {text}")
    return new


def chain(complexity: int, dtx: bool, src: Path, dst: Path, count: bool) -> str:
    """The bridge's send + receive descriptions as one file-to-file chain through G.711."""
    send = render(SEND_TEMPLATE, {"rate": str(RATE), "pt": "111", "ssrc": "1",
                                  "bitrate": "32000", "complexity": str(complexity),
                                  "dtx": str(dtx).lower()})
    recv = render(RECV_TEMPLATE, {"rate": str(RATE)})
    caller = (f"filesrc location={src} ! wavparse ! audioconvert ! {PCM_CAPS}"
              " ! mulawenc ! mulawdec ! ")
    send = rewrite(r'^capsfilter name=in caps="[^"]*"\s*!\s*', lambda _: caller, send,
                   'conference-send.txt: leading capsfilter name=in caps="..."')
    # Fed faster than real time, the encode queue must block, not drop.
    send = rewrite(r"(queue name=encode\b[^!]*?\bleaky=)\S+", r"\g<1>no", send,
                   "conference-send.txt: queue name=encode ... leaky=")
    counter = "identity name=count silent=false ! " if count else ""
    send = rewrite(r"tee name=fanout allow-not-linked=true\s*$", lambda _: counter + recv, send,
                   "conference-send.txt: trailing tee name=fanout allow-not-linked=true")
    # A DTX gap is silence at the receiver (its jitter buffer conceals it); audiorate fills the
    # gaps in the timestamps the same way, so the output lines up with the input.
    phone = f"audiorate ! mulawenc ! mulawdec ! wavenc ! filesink location={dst}"
    return rewrite(r"appsink name=out\b[^!]*$", lambda _: phone, send,
                   "conference-recv.txt: trailing appsink name=out")


def launch(description: str, verbose: bool = False) -> tuple[str, float]:
    """Runs gst-launch-1.0 to EOS; returns its stdout and the CPU seconds it used."""
    # One token per argument (gst-launch escapes spaces inside one); keep caps="..." quoted.
    cmd = ["gst-launch-1.0", "-v" if verbose else "-q", *shlex.split(description, posix=False)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "ERROR" in done.stderr:
        parse = "erroneous pipeline" in done.stderr or "could not" in done.stderr.lower()
        hint = "the rendered chain does not parse; did a template change shape?" if parse else ""
        raise SystemExit(f"gst-launch-1.0 failed {hint}\n  {description}\n"
                         f"  {done.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def g711_only(src: Path, dst: Path) -> float:
    """`src` through the caller's G.711 alone (the PESQ reference); returns its CPU seconds."""
    return launch(f"filesrc location={src} ! wavparse ! audioconvert ! {PCM_CAPS}"
                  f" ! mulawenc ! mulawdec ! wavenc ! filesink location={dst}")[1]


def mos(reference: Path, degraded: Path) -> float:
    """PESQ narrowband MOS-LQO; trimmed to the shorter file (PESQ finds the delay itself)."""
    _, ref = wavfile.read(reference)
    _, deg = wavfile.read(degraded)
    n = min(len(ref), len(deg))
    return float(pesq(RATE, ref[:n].astype(np.float32), deg[:n].astype(np.float32), "nb"))


def count_packets(log: str, seconds: float) -> dict:
    """Packets/s, payload kbit/s and DTX packets/s from identity's last-message lines."""
    sizes = [int(b) for b in re.findall(r"last-message = chain .*?\((\d+) bytes", log)]
    if not sizes:
        raise RuntimeError("no packets seen by identity name=count")
    payload = [s - RTP_HEADER_BYTES for s in sizes]
    return {"packets_per_s": len(sizes) / seconds,
            "dtx_packets_per_s": sum(p <= DTX_PAYLOAD_BYTES for p in payload) / seconds,
            "payload_kbit_s": sum(payload) * 8 / seconds / 1000}


def measure(complexity: int, dtx: bool, clip: Path, long: Path, ref: Path) -> dict:
    """Quality and packets on the clip, then CPU (median of REPEATS) on the long clip."""
    out = clip.with_name(f"out-c{complexity}-{dtx}.wav")
    log, _ = launch(chain(complexity, dtx, clip, out, count=True), verbose=True)
    clip_s = wav_seconds(clip)
    if wav_seconds(out) < 0.95 * clip_s:
        raise RuntimeError(f"{out.name} is {wav_seconds(out):.2f} s of {clip_s:.2f} s: dropped")
    cpu_runs = [launch(chain(complexity, dtx, long, long.with_name("cpu.wav"), count=False))[1]
                for _ in range(REPEATS)]
    cpu_s = statistics.median(cpu_runs)
    return {"complexity": complexity, "dtx": dtx, "pesq_mos_lqo": mos(ref, out),
            "cpu_seconds": cpu_s, "cpu_runs": cpu_runs,
            "cpu_pct_core": 100 * cpu_s / wav_seconds(long), **count_packets(log, clip_s)}


def machine() -> dict:
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "unknown")
    gst = run(["gst-launch-1.0", "--version"]).stdout.splitlines()[0]
    return {"nproc": int(run(["nproc"]).stdout), "cpu_model": model, "gstreamer": gst}


def table(rows: list[dict]) -> str:
    lines = ["| complexity | dtx | CPU % of a core per call | × of c10 | PESQ MOS-LQO "
             "| packets/s | of which DTX/s | payload kbit/s |",
             "|---:|:---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['complexity']} | {str(r['dtx']).lower()} | {r['cpu_pct_core']:.2f} "
                     f"| {r['x_of_c10']:.2f} | {r['pesq_mos_lqo']:.2f} | "
                     f"{r['packets_per_s']:.1f} | {r['dtx_packets_per_s']:.1f} "
                     f"| {r['payload_kbit_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "codec_quality.json")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codec_quality-") as tmp:
        work = Path(tmp)
        clip = make_clip(work)
        long = repeat_clip(clip, args.seconds)
        ref = work / "g711.wav"
        g711_only(clip, ref)
        # What every row pays without Opus: gst-launch start-up, file I/O, G.711.
        floor_s = statistics.median(g711_only(long, work / "floor.wav") for _ in range(REPEATS))
        rows = [measure(c, d, clip, long, ref) for c in COMPLEXITIES for d in (False, True)]
        g711_mos = mos(clip, ref)
        clip_s, long_s = wav_seconds(clip), wav_seconds(long)
    base = next(r for r in rows if r["complexity"] == 10 and not r["dtx"])
    for r in rows:
        r["x_of_c10"] = r["cpu_seconds"] / base["cpu_seconds"]
    print(table(rows))
    print(f"\nG.711 reference vs original clip: PESQ MOS-LQO {g711_mos:.2f} (for scale). "
          f"Clip {clip_s:.1f} s; CPU over {long_s:.1f} s, median of {REPEATS}; the same chain "
          f"without Opus (start-up, files, G.711) costs {100 * floor_s / long_s:.2f} % of a core.")
    report = {"machine": machine(), "clip_seconds": clip_s, "cpu_audio_seconds": long_s,
              "repeats": REPEATS, "bitrate": 32000, "g711_vs_clip_pesq": g711_mos,
              "no_opus_cpu_pct_core": 100 * floor_s / long_s, "rows": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
