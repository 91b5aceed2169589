"""Keeping freed memory in the process, so that large tensors do not cost page faults.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves every request above
its mmap threshold (128 KiB, raised as large blocks are freed, but never above 32 MiB) with
fresh pages from the kernel and hands them back on ``free``; it also trims free memory from the
top of its heap. A style transfer allocates and frees the same large activations and gradients
at every evaluation, so each evaluation's big tensors are new pages that the kernel must fault
in and zero: about 2 million page faults in a default 512 px art run, 8-16% of its time, and
a third of a 1024 px run's (``benchmarks/RESULTS.md``).

:func:`keep_freed_memory` tells glibc to serve every block from its heap and to keep freed
memory for reuse, in one arena for every thread started after it (the web UI's worker thread
too). The price: the process keeps its peak memory until it exits (measured: peak
RSS 0.02 GiB higher at 512 px, 3.56 -> 3.71 GiB for a 1024 px art run). It is process-wide, applied once by
:func:`restyle.device.runtime` for CPU runs; set ``RESTYLE_KEEP_FREED_MEMORY=0`` to leave
``malloc`` as it was (a long-lived process that wants memory back between jobs). Elsewhere than
glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

__all__ = ["ENV_KEEP", "keep_freed_memory"]

#: Environment variable: ``0`` leaves the C allocator's policy alone.
ENV_KEEP = "RESTYLE_KEEP_FREED_MEMORY"

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# Free memory at the heap's top beyond this goes back to the kernel: well above what a run at
# the sizes we allow frees between two evaluations, so that it stays in the process.
_TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse (once per process).

    Returns:
        True if the policy is in force, False where it does not apply (not glibc) or was
        turned off with ``RESTYLE_KEEP_FREED_MEMORY=0``.

    Example:
        >>> keep_freed_memory() in (True, False)
        True
    """
    if os.environ.get(ENV_KEEP, "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt ignores these settings
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # No block from mmap (so none is handed back on free) and no trimming of the heap's top.
    # One arena for every thread: a thread started after this takes the main heap, not an arena
    # of its own, whose heaps are at most 64 MiB and whose large blocks come from mmap whatever
    # the settings (a web job in its worker thread faulted 150-500 thousand pages without this).
    return (
        bool(mallopt(_M_MMAP_MAX, 0))
        and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
        and bool(mallopt(_M_ARENA_MAX, 1))
    )
