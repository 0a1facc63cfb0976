"""Memory and CPU of the stack, from /proc, for `make bench-abuse`
(benchmarks/bench_abuse.py): which process is which under the launcher,
resident size sampled every 0.5 s (peaks per window) and CPU seconds."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bench_load import children, cmdline, cpu_seconds, pss_mb, rss_mb

# Substrings of a launcher child's command line, and what it is.
ROLES = (
    ("gunicorn", "web"),
    ("nginx", "nginx"),
    ("cache.sock", "redis cache"),
    ("redis", "redis queue"),
    ("rqworker", "workers"),
    ("recover_jobs", "sweeper"),
)
SAMPLE_SECONDS = 0.5


def _children(pid: int) -> list[int]:
    try:
        return children(pid)
    except OSError:  # gone meanwhile (a recycled gunicorn worker)
        return []


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += _children(current)
    return found


def stack_processes(launcher: int) -> Callable[[], dict[str, list[int]]]:
    """A function giving the launcher's children by role, as they are now
    (workers restart, gunicorn's master stays: its children come and go)."""

    def roles() -> dict[str, list[int]]:
        found: dict[str, list[int]] = {role: [] for _key, role in ROLES}
        for pid in _children(launcher):
            line = cmdline(pid)
            role = next((r for key, r in ROLES if key in line), None)
            if role:
                found[role].append(pid)
        return found

    return roles


# The last CPU reading of every process seen, by role: a process that ends
# (a worker restarted by the launcher, a gunicorn worker recycled before
# its master reaped it) keeps its last reading instead of taking its CPU
# out of the sum (it would go to the launcher's cutime, which is not read).
# The probe refreshes the readings every SAMPLE_SECONDS.
_LAST_CPU: dict[tuple[str, int], float] = {}
_LAST_CPU_LOCK = threading.Lock()


def server_cpu(processes: Callable[[], dict[str, list[int]]]) -> dict[str, float]:
    """CPU seconds so far of web (gunicorn master, its living workers and
    the ones it reaped), nginx, the two Redis servers and the rq workers
    (with their job processes), counting processes that have ended."""
    now = processes()
    groups = {
        "web": now["web"],
        "nginx": now["nginx"],
        "redis": now["redis queue"] + now["redis cache"],
        "workers": now["workers"],
    }
    with _LAST_CPU_LOCK:
        for role, pids in groups.items():
            for pid in pids:
                key = (role, pid)
                _LAST_CPU[key] = max(_LAST_CPU.get(key, 0.0), cpu_seconds(pid))
        totals = dict.fromkeys(groups, 0.0)
        for (role, _pid), seconds in _LAST_CPU.items():
            totals[role] += seconds
    return totals


def _memory(pids: list[int], measure: Callable[[int], float] = rss_mb) -> float:
    """Resident size (or PSS) of processes and all their descendants, MB."""
    total = 0.0
    for root in pids:
        for pid in _tree(root):
            try:
                total += measure(pid)
            except OSError:
                pass
    return total


class Probe(threading.Thread):
    """Samples the resident size of web (every gunicorn process), nginx and
    each Redis server; keeps the peaks of the current window.

    The web processes' RSS sum counts the ~136 MB of shared library pages
    (numpy, OpenCV, numba) once per process; their PSS sum ("web pss")
    divides shared pages among the processes that map them, so it is the
    memory the web server takes from the machine."""

    def __init__(self, processes: Callable[[], dict[str, list[int]]]):
        super().__init__(daemon=True)
        self.processes = processes
        self.lock = threading.Lock()
        self.peaks: dict[str, float] = {}
        self.stopping = threading.Event()

    def sample(self) -> dict[str, float]:
        now = self.processes()
        values = {
            role: _memory(now[role])
            for role in ("web", "nginx", "redis queue", "redis cache")
        }
        values["web pss"] = _memory(now["web"], pss_mb)
        return values

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            server_cpu(self.processes)  # keeps the last reading of each process
            values = self.sample()
            with self.lock:
                for role, value in values.items():
                    self.peaks[role] = max(self.peaks.get(role, 0.0), value)

    def start_window(self) -> None:
        with self.lock:
            self.peaks = self.sample()

    def end_window(self) -> dict[str, float]:
        with self.lock:
            return dict(self.peaks)

    def stop(self) -> None:
        self.stopping.set()
