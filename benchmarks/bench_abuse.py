"""Benchmark under attack (not a test): `make bench-abuse`.

Starts the stack as compose would, on loopback: the launcher's ``run``
(as ``STUDIO_PROXY=nginx make run``: the project's nginx in front of
gunicorn, the launcher's STUDIO_TRUSTED_PROXIES for it, DEBUG off, a queue
Redis and a cache Redis, one rq worker, the sweeper) in a throw-away var
folder and on free ports. Before the phases it signs up 5 members (each from
a loopback address of its own, 127.0.0.11-15), a victim and an attacker
account, and makes one public 12 MP artwork.

Phase 1, baseline (``--seconds``, 60): the 5 members sign in, upload 2 MP
photos through ``POST /api/artworks/``, poll each one every second as the
upload page does while trying live previews (``POST /api/preview/``, the
editor's 512 px image, a new recipe each time), then browse (explore, own
gallery, the artwork page, its thumbnail). Phase 2: the same for as long,
while one attacker process (127.0.0.66, benchmarks/abuse_attacks.py) runs
every attack of issue 11 at once: preview bombs in 4 threads, 300 slow
connections, a sign-up farm, anonymous PNG/WebP conversions of the public
12 MP result, password guessing with a new X-Forwarded-For each time, and
oversized or malformed bodies. Then it waits for the members' artworks to
finish (``--drain``) and counts the ones that did not: lost. The attacker
runs at nice 19: on one machine its own CPU (building requests, its side of
every loopback connection) competes with the server's, which a real
attacker's does not; it still sends as fast as the CPU lets it, and its own
CPU seconds are printed.

Memory: the resident size (VmRSS) of every gunicorn process summed, and of
each Redis server, sampled from /proc every 0.5 s; the peak per phase.

CPU: server CPU seconds (gunicorn master, its workers living and reaped,
nginx, both Redis servers, the rq worker and its job processes), read from
/proc/<pid>/stat. A phase's total is exact; attributing it to attack kinds
is not possible while they all run at once, and the attacker's own time
says nothing about the server's. So after the drain each attack kind runs
alone for a short window (``--solo``, 10 s) with no member traffic, and its
cost is the server CPU of that window less the CPU of an idle window just
as long. The rate limits are as phase 2 left them (mostly engaged), as they
are for most of a real attack.

Targets: members' p95 under attack at most 2x the baseline per request
kind, no 5xx and no connection errors for them, 0 artworks lost, 0 logins
past the lockout, web RSS under 1 GB in total. Prints PASS or FAIL and
exits 1 on FAIL.

    .venv/bin/python benchmarks/bench_abuse.py [--seconds 60] [--solo 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from abuse_attacks import ATTACKER, attack, bomb_images
from abuse_attacks import KINDS as ATTACK_KINDS
from abuse_clients import (
    KINDS,
    SIGN_IN,
    Member,
    PhotoSupply,
    Stats,
    new_account,
    sign_up,
    unfinished,
)
from abuse_probe import Probe, server_cpu, stack_processes
from bench_e2e import photo_jpeg
from bench_load import distinct_photos, free_port, launch_stack, pct

MEMBERS = [f"127.0.0.{11 + i}" for i in range(5)]
SETUP = "127.0.0.2"  # where the victim and attacker accounts were made
WEB_RSS_LIMIT_MB = 1024
P95_FACTOR = 2.0


def public_artwork(base: str) -> int:
    """One public, done artwork of a 12 MP photo, for the conversions."""
    session = sign_up(base, SETUP, *new_account("owner"))
    status, body = session.multipart(
        "/api/artworks/", [("style", "pencil")], {"image": photo_jpeg(12)}
    )
    if status != 202:
        raise SystemExit(f"12 MP upload failed: HTTP {status} {body[:200]!r}")
    url = json.loads(body)["artworks"][0]["url"]
    deadline = time.monotonic() + 180
    while json.loads(session.request("GET", url)[1])["status"] != "done":
        if time.monotonic() > deadline:
            raise SystemExit("the 12 MP artwork did not finish in 180 s")
        time.sleep(0.5)
    artwork_id = int(url.rstrip("/").rsplit("/", 1)[1])
    session.request("GET", f"/artworks/{artwork_id}/")
    session.form(f"/artworks/{artwork_id}/visibility/", {"public": "1"})
    return artwork_id


def run_phase(members, probe, seconds, ctx=None) -> tuple[Stats, dict, dict]:
    """Members for ``seconds`` (and the attacker, given its context)."""
    stats = Stats()
    results = multiprocessing.Queue()
    attacker = None
    if ctx is not None:
        attacker = multiprocessing.Process(
            target=attack, args=(ctx, list(ATTACK_KINDS), seconds, results)
        )
    probe.start_window()
    cpu_before = server_cpu(probe.processes)
    until = time.monotonic() + seconds
    if attacker:
        attacker.start()
    threads = [threading.Thread(target=m.run, args=(stats, until)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts, attacker_cpu = results.get(timeout=120) if attacker else ({}, 0.0)
    if attacker:
        attacker.join(30)
    cpu = {
        k: v - cpu_before.get(k, 0.0) for k, v in server_cpu(probe.processes).items()
    }
    rest = {"cpu": cpu, "attack": counts, "attacker cpu": attacker_cpu}
    return stats, probe.end_window(), rest


def solo_costs(ctx: dict, probe, seconds: float) -> dict[str, float]:
    """Server CPU seconds of each attack kind alone, less an idle window."""

    def window(kinds: list[str]) -> float:
        results = multiprocessing.Queue()
        before = sum(server_cpu(probe.processes).values())
        process = multiprocessing.Process(
            target=attack, args=(ctx, kinds, seconds, results)
        )
        process.start()
        results.get(timeout=seconds + 120)  # (counts, attacker CPU)
        process.join(30)
        return sum(server_cpu(probe.processes).values()) - before

    idle = window([])
    costs = {kind: max(0.0, window([kind]) - idle) for kind in ATTACK_KINDS}
    return {**costs, "idle (subtracted)": idle}


def latency_rows(base: Stats, attacked: Stats) -> tuple[list, list[str]]:
    rows, failures = [], []
    for kind in (*KINDS, SIGN_IN):
        a, b = base.latencies.get(kind, []), attacked.latencies.get(kind, [])
        p95a, p95b = pct(a, 95), pct(b, 95)
        ok = bool(a and b) and p95b <= P95_FACTOR * p95a
        if not ok and kind != SIGN_IN:
            failures.append(f"{kind} p95 {p95b:.0f} ms > {P95_FACTOR}x {p95a:.0f} ms")
        rows.append(
            (
                f"{kind}: p50 / p95 ms (requests)",
                f"{pct(a, 50):.0f} / {p95a:.0f} ({len(a)})",
                f"{pct(b, 50):.0f} / {p95b:.0f} ({len(b)})",
                f"p95 x{p95b / p95a:.2f}" if a and b else "no data",
            )
        )
    return rows, failures


def print_table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print(
            "| "
            + " | ".join(f"{str(c):<{w}}" for c, w in zip(row, widths, strict=True))
            + " |"
        )
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="each phase")
    parser.add_argument("--solo", type=float, default=10, help="each CPU window")
    parser.add_argument("--drain", type=float, default=180, help="max wait at end")
    parser.add_argument(
        "--access-log", default="", help="gunicorn's access log (with times) here"
    )
    args = parser.parse_args()
    print("generating photos and bombs…", flush=True)
    per_phase = int(5 * args.seconds / 2) + 10
    photos = distinct_photos(2 * per_phase, 2.0)
    var = Path(tempfile.mkdtemp(prefix="studio-bench-abuse-"))
    port = free_port()
    keep = {"REDIS_URL", "CACHE_URL", "DATABASE_URL", "DEBUG", "STUDIO_PROXY"}
    env = {k: v for k, v in os.environ.items() if k not in keep}
    env |= {
        "STUDIO_VAR_DIR": str(var),
        "PORT": str(port),
        "STUDIO_PROXY": "nginx",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    if args.access_log:  # which requests held gunicorn's workers, and how long
        env["GUNICORN_CMD_ARGS"] = (
            f"--access-logfile {args.access_log} --access-logformat "
            "'%(t)s %({x-forwarded-for}i)s \"%(r)s\" %(s)s %(b)s %(M)s'"
        )
    stack, base = launch_stack(env)
    try:
        return measure(args, stack, base, port, photos)
    finally:
        stack.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            stack.wait(60)
        except Exception:  # noqa: BLE001
            stack.kill()
        shutil.rmtree(var, ignore_errors=True)


def measure(args, stack, base, port, photos) -> int:
    time.sleep(3)  # the worker and gunicorn warm their kernels
    probe = Probe(stack_processes(stack.pid))
    probe.start()
    accounts = [new_account("member") for _ in MEMBERS]
    for source, account in zip(MEMBERS, accounts, strict=True):
        sign_up(base, source, *account)
    victim, attacker = new_account("victim"), new_account("attacker")
    sign_up(base, SETUP, *victim)
    sign_up(base, SETUP, *attacker)
    print("preparing a public 12 MP artwork…", flush=True)
    ctx = {
        "base": base,
        "address": ("127.0.0.1", port),
        "bombs": bomb_images(),
        "public_id": public_artwork(base),
        "victim_account": victim,
        "attacker_account": attacker,
    }
    uploaded: list = []
    shared = PhotoSupply(photos)
    members = [
        Member(base, source, *account, shared, uploaded)
        for source, account in zip(MEMBERS, accounts, strict=True)
    ]
    # Unrecorded: the web processes' first previews load the style kernels.
    print("warming up…", flush=True)
    run_phase(members, probe, min(20, args.seconds))
    print(f"phase 1: baseline, {args.seconds:.0f} s…", flush=True)
    base_stats, base_peak, base_rest = run_phase(members, probe, args.seconds)
    print(f"phase 2: under attack from {ATTACKER}, {args.seconds:.0f} s…", flush=True)
    hit_stats, hit_peak, hit_rest = run_phase(members, probe, args.seconds, ctx)
    print("draining…", flush=True)
    deadline = time.monotonic() + args.drain
    sessions: dict = {}
    left = uploaded
    while (left := unfinished(base, left, sessions)) and time.monotonic() < deadline:
        time.sleep(2)
    print(f"attack kinds alone, {args.solo:.0f} s each…", flush=True)
    solo = solo_costs(ctx, probe, args.solo)
    probe.stop()
    rows, failures = latency_rows(base_stats, hit_stats)
    for name, attr in (
        ("5xx", "server_errors"),
        ("connection errors", "connection_errors"),
    ):
        a, b = getattr(base_stats, attr), getattr(hit_stats, attr)
        rows.append((f"members' {name}", a, b, "0"))
        if a or b:
            failures.append(f"members' {name}: {a} / {b}")
    rows += [
        (
            "members' 429/503 (waited, retried)",
            base_stats.refused,
            hit_stats.refused,
            "",
        ),
        (
            "members' other 4xx",
            dict(base_stats.other) or 0,
            dict(hit_stats.other) or 0,
            "",
        ),
        (
            "artworks uploaded / lost after drain",
            "",
            f"{len(uploaded)} / {len(left)}",
            "lost 0",
        ),
    ]
    if left:
        failures.append(f"{len(left)} artworks lost")

    def peak(label: str, key: str, target: str = "") -> tuple:
        return (label, f"{base_peak[key]:.0f}", f"{hit_peak[key]:.0f}", target)

    rows += [
        peak("peak web RSS sum, all gunicorn (MB)", "web"),
        peak("peak web PSS sum, all gunicorn (MB)", "web pss", f"< {WEB_RSS_LIMIT_MB}"),
        peak("peak RSS Redis queue (MB)", "redis queue"),
        peak("peak RSS Redis cache (MB)", "redis cache"),
        peak("peak RSS nginx (MB)", "nginx"),
    ]
    # Judged on PSS: the RSS sum counts shared library pages once per process.
    web_peak = max(base_peak["web pss"], hit_peak["web pss"])
    if web_peak >= WEB_RSS_LIMIT_MB:
        failures.append(f"web PSS peak {web_peak:.0f} MB")
    for part in ("web", "nginx", "redis", "workers"):
        rows.append(
            (
                f"server CPU s, {part}",
                f"{base_rest['cpu'][part]:.1f}",
                f"{hit_rest['cpu'][part]:.1f}",
                "",
            )
        )
    attacker_cpu = f"{hit_rest['attacker cpu']:.1f} (nice 19)"
    rows.append(("attacker process's own CPU s", "", attacker_cpu, ""))
    for kind, counts in hit_rest["attack"].items():
        for name, count in sorted(counts.items()):
            must_be_zero = name in ("logins past lockout", "5xx")
            rows.append(
                (f"attack {kind}: {name}", "", count, "0" if must_be_zero else "")
            )
            if must_be_zero and count:
                failures.append(f"attack {kind}: {count} {name}")
    rows += [
        (f"server CPU s, {kind} alone {args.solo:.0f} s", "", f"{cpu:.1f}", "")
        for kind, cpu in solo.items()
    ]
    rows.append(
        ("load average (1 min) at the end", "", f"{os.getloadavg()[0]:.1f}", "")
    )
    print()
    print_table([("", "baseline", "under attack", "target"), *rows])
    print()
    for failure in failures:
        print("FAIL:", failure)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0  # fmt: skip


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    sys.exit(main())
