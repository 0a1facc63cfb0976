"""The job process's own memory: its resident size, and giving freed heap
back to the system.

glibc keeps freed memory in the heap for reuse, and after the first large
block it frees it raises its mmap threshold (up to 32 MB), so the decoder's
blocks (Pillow allocates 16 MB at a time) stay resident after the decoded
image is gone. A 12 MP job then renders on top of ~50 MB it no longer
uses: :func:`release_heap` between the decode and the render, and between
jobs, gives them back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
except (OSError, AttributeError):  # not glibc
    _LIBC = None


def rss_mb(pid: int | str = "self") -> float:
    """Resident size of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE_KB / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


def release_heap() -> None:
    """Give the heap's free pages back to the system (glibc only; a no-op
    elsewhere). Costs well under a millisecond when little is free."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
