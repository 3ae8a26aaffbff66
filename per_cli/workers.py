"""Worker processes for CPU-bound steps (row validation, password hashing).

Workers come from a ``forkserver``: forked from a clean process, so they never inherit the parent's open
database sockets (a forked copy would keep a killed run's transaction and locks alive on PostgreSQL), and on
Linux each worker asks the kernel to end it when its parent dies, so a SIGKILLed run leaves no orphans.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the forkserver still ends idle workers with the parent
        pass


def process_pool(workers: int, preload: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes whose modules in ``preload`` are imported once, in the fork server."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if preload and "forkserver" in methods:
        context.set_forkserver_preload(list(preload))
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
