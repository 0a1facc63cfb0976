"""Batch command line: ``python -m processing IN... --style NAME --out DIR``.

Photos become ``NAME-STYLE.jpg`` (``--format``); videos (MP4, MOV, WebM)
become ``NAME-STYLE.mp4`` with their sound, and animated GIF/WebP files
``NAME-STYLE.mp4`` plus ``NAME-STYLE.webp``, with a frame progress bar.

Exit status: 0 when every file was converted, 1 when at least one failed,
2 on a usage error. One bad file never stops the batch.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from processing import formats
from processing.codec import InvalidImage, decode, encode
from processing.styles import GENERIC_PARAMS, STYLES, Param, render, validate_params
from processing.video import InvalidVideo, is_moving, probe, render_moving


def _parse_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _param_help(param: Param) -> str:
    if param.type == "bool":
        return f"{param.name} on/off"
    return f"{param.name} {param.min:g}..{param.max:g}"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the batch CLI."""
    styles_help = "; ".join(
        f"{s.slug}: " + ", ".join(_param_help(p) for p in s.style_params)
        for s in STYLES.values()
    )
    generic_help = ", ".join(_param_help(p) for p in GENERIC_PARAMS)
    parser = argparse.ArgumentParser(
        prog="python -m processing",
        description="Convert photos, videos and animated GIF/WebP files into "
        "artworks offline.",
        epilog=f"Parameters per style: {styles_help}. Every style: {generic_help}.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="input image, video (MP4, MOV, WebM) or animated GIF/WebP files",
    )
    parser.add_argument(
        "--style", required=True, choices=list(STYLES), help="style slug to apply"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        type=_parse_param,
        metavar="NAME=VALUE",
        help="style parameter (repeatable), e.g. --param sigma_s=80 or "
        "--param keep_colors=1",
    )
    parser.add_argument(
        "--format",
        default="jpeg",
        choices=sorted(formats.ENCODABLE),
        help="output format (default: jpeg)",
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=90,
        help="JPEG/WebP quality 1-100 (default: 90)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=50_000_000,
        help="refuse inputs larger than this many pixels (default: 50000000)",
    )
    parser.add_argument(
        "--work-pixels",
        type=int,
        default=12_000_000,
        help="downscale inputs to at most this many pixels (default: 12000000)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="refuse videos and animations longer than this (default: 30)",
    )
    parser.add_argument(
        "--max-video-pixels",
        type=int,
        default=1920 * 1080,
        help="refuse videos with larger frames than this many pixels "
        "(default: 2073600, 1920x1080)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    return parser


def _progress(stream: TextIO, done: int, total: int, name: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    line = f"\r[{bar}] {done}/{total} {name[:40]:<40}"
    stream.write(line)
    stream.flush()


def _frame_bar(stream: TextIO, name: str):
    """A ``progress(done, total)`` callback drawing a frame bar for one file."""

    def progress(done: int, total: int) -> None:
        _progress(stream, done, total, f"{name} (frames)")

    return progress


def _convert_moving(path: Path, args: argparse.Namespace, params: dict, err) -> None:
    info = probe(path, max_seconds=args.max_seconds, max_pixels=args.max_video_pixels)
    stem = args.out / f"{path.stem}-{args.style}"
    webp = stem.with_suffix(".webp") if info.media == "animation" else None
    render_moving(
        path, args.style, params, stem.with_suffix(".mp4"), out_webp=webp,
        info=info, progress=_frame_bar(err, path.name),
        max_seconds=args.max_seconds, max_pixels=args.max_video_pixels,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        params = validate_params(args.style, dict(args.param))
    except ValueError as exc:
        parser.error(str(exc))
    if not 1 <= args.quality <= 100:
        parser.error("--quality must be between 1 and 100")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create output directory {args.out}: {exc}")

    suffix = formats.by_slug(args.format).suffix
    total = len(args.inputs)
    failures = 0
    started = time.monotonic()
    err = sys.stderr
    for index, name in enumerate(args.inputs):
        path = Path(name)
        _progress(err, index, total, path.name)
        try:
            if is_moving(path):
                _convert_moving(path, args, params, err)
                continue
            data = path.read_bytes()
            image = decode(
                data, max_pixels=args.max_pixels, work_pixels=args.work_pixels
            )
            result = render(image, args.style, **params)
            payload = encode(result, args.format, args.quality)
            target = args.out / f"{path.stem}-{args.style}{suffix}"
            target.write_bytes(payload)
        except (InvalidImage, InvalidVideo) as exc:
            failures += 1
            err.write(f"\rerror: {name}: {exc}\n")
        except OSError as exc:
            failures += 1
            err.write(f"\rerror: {name}: {exc.strerror or exc}\n")
    _progress(err, total, total, "")
    elapsed = time.monotonic() - started
    err.write(
        f"\n{total - failures} of {total} converted in {elapsed:.1f} s"
        + (f", {failures} failed" if failures else "")
        + "\n"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
