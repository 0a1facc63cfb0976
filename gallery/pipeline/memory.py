"""The job process's own memory: its resident size, and giving freed heap
back to the system.

glibc keeps freed memory in the heap for reuse, and after the first large
block it frees it raises its mmap threshold (up to 32 MB), so the decoder's
blocks (Pillow allocates 16 MB at a time) stay resident after the decoded
image is gone. A 12 MP job then renders on top of ~50 MB it no longer
uses: :func:`release_heap` (the styles' own, ``processing.looks``) between
the decode and the render, and between jobs, gives them back.
"""

from __future__ import annotations

import os

from processing.looks import release_heap

__all__ = ["release_heap", "rss_mb"]

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mb(pid: int | str = "self") -> float:
    """Resident size of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE_KB / 1024
    except (OSError, IndexError, ValueError):
        return 0.0
