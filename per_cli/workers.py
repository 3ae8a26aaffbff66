"""Worker processes for CPU-bound steps (row validation in bulk enrolment), and an ordered map over them.

Workers are *spawned*: direct children of the run, started from a clean interpreter, so they never inherit the
parent's open database sockets (a forked copy would keep a killed run's transaction and locks alive on
PostgreSQL). On Linux each worker asks the kernel to end it when its parent dies (``PR_SET_PDEATHSIG``), so a
SIGKILLed run leaves no orphan behind; a ``forkserver`` would not do, as its workers outlive the run with it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

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


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in the order of ``items``, computed by ``workers`` processes and by this one.

    The caller consumes each result with work of its own (bulk enrolment writes a chunk), so this process is a
    worker too only when it would otherwise wait: when the next result is not ready and the pool already has
    two items per worker, it computes the next item itself. The pool is topped up before every hand-over, so
    it never idles while the caller works; at most ``4 * workers + 2`` items are read ahead of the caller.
    ``fn`` and the items must pickle; with ``workers`` < 1 everything runs here.
    """
    it = iter(items)
    if workers < 1:
        for item in it:
            yield item, fn(item)
        return
    limit = 4 * workers + 2
    with process_pool(workers) as pool:
        pending: deque[tuple[T, Future[R] | tuple[R]]] = deque()
        exhausted = False

        def take() -> tuple[T] | None:
            """The next item (boxed, as an item may be falsy), unless read-ahead is at its limit or none is left."""
            nonlocal exhausted
            if exhausted or len(pending) >= limit:
                return None
            for item in it:
                return (item,)
            exhausted = True
            return None

        while True:
            while sum(isinstance(f, Future) and not f.done() for _, f in pending) < 2 * workers:
                box = take()
                if box is None:
                    break
                pending.append((box[0], pool.submit(fn, box[0])))
            if not pending:
                return
            head, result = pending[0]
            if isinstance(result, Future) and not result.done() and (box := take()) is not None:
                pending.append((box[0], (fn(box[0]),)))  # the pool is behind: compute one here meanwhile
                continue
            pending.popleft()
            yield head, result.result() if isinstance(result, Future) else result[0]
