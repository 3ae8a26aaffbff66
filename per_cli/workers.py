"""Worker processes for CPU-bound steps (row validation in bulk enrolment).

Workers are *spawned*: direct children of the run, started from a clean interpreter, so they never inherit the
parent's open database sockets (a forked copy would keep a killed run's transaction and locks alive on
PostgreSQL). On Linux each worker asks the kernel to end it when its parent dies (``PR_SET_PDEATHSIG``), so a
SIGKILLed run leaves no orphan behind; a ``forkserver`` would not do, as its workers outlive the run with it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers end when the pool's pipes close
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),))


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
