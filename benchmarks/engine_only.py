"""The engine's own cost of a job, for the pipeline benchmarks to compare
against: decode, render, encode the result, thumbnail (resize + encode), in
warm processes, with the settings the job uses. No Django, no Redis, no
database, no storage.

``engine_seconds(data, style)`` times one photo in this process;
``engine_throughput(work, processes)`` renders a list of ``(bytes, style)``
with that many warm processes at once (the pipeline's worker count) and
returns photos per minute.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import processing  # noqa: E402

STYLE_SLUGS = list(processing.STYLES)  # in the registry's (and the API's) order
RESULT_QUALITY = 92  # STUDIO_RESULT_QUALITY's default
THUMBNAIL_SIZE = 480  # STUDIO_THUMBNAIL_SIZE's default


def engine_job(data: bytes, style: str) -> None:
    image = processing.decode(data, max_pixels=50_000_000, work_pixels=12_000_000)
    rendered = processing.render(image, style)
    del image
    processing.encode(rendered, "jpeg", RESULT_QUALITY)
    processing.encode(processing.make_thumbnail(rendered, THUMBNAIL_SIZE), "jpeg", 85)


def engine_seconds(data: bytes, style: str, runs: int = 3) -> float:
    """Median seconds of one photo's engine work in this (warmed) process."""
    processing.warm_up()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        engine_job(data, style)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _warm(_):
    processing.warm_up()
    return True


def _one(item: tuple[bytes, str]) -> None:
    engine_job(*item)


def engine_throughput(work: list[tuple[bytes, str]], processes: int) -> float:
    """Photos per minute of ``processes`` warm engine processes on ``work``."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        pool.map(_warm, range(processes * 2))
        started = time.perf_counter()
        pool.map(_one, work, chunksize=1)
        wall = time.perf_counter() - started
    return len(work) / wall * 60
