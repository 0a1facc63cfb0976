"""Styling a video: speed, peak memory, output size and flicker per style.

Run: ``.venv/bin/python benchmarks/bench_video.py`` (``make bench-video``,
also part of ``make bench``). A 10 s 1280x720 30 fps clip with a 440 Hz
tone is generated (a still, textured background with sensor noise and one
moving disc: :mod:`processing.video.samples`); each style renders it in a
fresh subprocess (kernels warmed first, as in a worker) with
:func:`processing.render_moving`, which reports:

* seconds and their ratio to the clip's 10 s (targets: 1.5x for the filter
  styles, 4x for the stroke styles impressionist and pointillism), and the
  CPU seconds (all threads) of the render: on a shared machine wall time
  grows with the load, CPU time much less; ``cpu / 2`` is what two idle
  cores would need at best;
* the subprocess's peak RSS (``VmHWM``, target under 500 MB);
* the MP4's size;
* the flicker ratio (:func:`processing.video.temporal.flicker_ratio`,
  target at most 1.5) in the region 64 px or more from the disc's path;
* "every pixel moving": the same style on the clip's first 2 s with the
  stabiliser off, so every frame is rendered whole, as a panning camera
  would need - the worst case, as a ratio to those 2 s (not a target).

The machine is shared: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import processing  # noqa: E402
from processing.video import render_moving  # noqa: E402
from processing.video.samples import still_mask, write_clip  # noqa: E402
from processing.video.temporal import decoded_frames, flicker_ratio  # noqa: E402

STROKE_STYLES = {"impressionist", "pointillism"}
WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 10.0
MARGIN = 64
RSS_TARGET_MB = 500


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(style: str, source: str, out: str, stabilize: bool, seconds: float) -> None:
    """Render in this (fresh) process and print a JSON line of the figures."""
    processing.warm_up()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = render_moving(
        source, style, {}, out, stabilize=stabilize, max_seconds=seconds + 1
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    record = {
        "seconds": elapsed,
        "cpu": cpu,
        "frames": result.frames,
        "duration": result.duration,
        "audio": result.audio,
        "peak_mb": status_mb("VmHWM"),
        "size": Path(out).stat().st_size,
    }
    print(json.dumps(record))


def run_child(style: str, source: Path, out: Path, stabilize: bool, seconds: float):
    cmd = [sys.executable, __file__, "--child", style, str(source), str(out),
           "--seconds", str(seconds)] + ([] if stabilize else ["--no-stabilize"])  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("STYLE", "IN", "OUT"))
    parser.add_argument("--no-stabilize", action="store_true")
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--styles", nargs="*", default=list(processing.STYLES))
    parser.add_argument("--skip-worst-case", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(*args.child, stabilize=not args.no_stabilize, seconds=args.seconds)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        work = Path(tmp)
        clip, short = work / "clip.mp4", work / "short.mp4"
        started = time.perf_counter()
        frames = write_clip(clip, width=WIDTH, height=HEIGHT, fps=FPS, seconds=SECONDS)
        write_clip(short, width=WIDTH, height=HEIGHT, fps=FPS, seconds=2.0)
        print(
            f"clip: {WIDTH}x{HEIGHT}, {FPS} fps, {SECONDS:g} s, {frames} frames, "
            f"H.264 + AAC tone, {clip.stat().st_size / 1e6:.1f} MB "
            f"(made in {time.perf_counter() - started:.0f} s)"
        )
        mask = still_mask(frames, HEIGHT, WIDTH, MARGIN)
        print(f"load average before: {load_average()}")
        header = (
            f"{'style':<14} {'kind':<6} {'seconds':>7} {'ratio':>6} {'target':>6} "
            f"{'CPU s':>6} "
            f"{'peak RSS':>9} {'MP4':>8} {'flicker':>7} {'all moving':>10}  verdict"
        )
        print(header)
        print("-" * len(header))
        failures = 0
        for style in args.styles:
            kind = "stroke" if style in STROKE_STYLES else "filter"
            target = 4.0 if kind == "stroke" else 1.5
            out = work / f"{style}.mp4"
            rec = run_child(style, clip, out, True, SECONDS)
            ratio = rec["seconds"] / SECONDS
            flicker = flicker_ratio(decoded_frames(clip), decoded_frames(out), mask)
            out.unlink()
            worst = "-"
            if not args.skip_worst_case:
                full = run_child(style, short, work / "full.mp4", False, 2.0)
                worst = f"{full['seconds'] / 2.0:.2f}x"
            ok = (
                ratio <= target
                and rec["peak_mb"] < RSS_TARGET_MB
                and flicker <= 1.5
                and rec["frames"] == frames
            )
            failures += not ok
            print(
                f"{style:<14} {kind:<6} {rec['seconds']:7.1f} {ratio:5.2f}x "
                f"{target:5.1f}x {rec['cpu']:6.1f} {rec['peak_mb']:6.0f} MB {rec['size'] / 1e6:5.2f} MB "
                f"{flicker:7.2f} {worst:>10}  {verdict(ok)}",
                flush=True,
            )
        print(f"load average after: {load_average()} (2 cores, shared machine)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
