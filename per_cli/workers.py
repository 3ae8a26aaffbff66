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
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Workers end with this process, and leave a Ctrl-C at the terminal to it (no traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers end when the pool's pipes close
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


@contextmanager
def _interrupts_for_this_process_only() -> Iterator[None]:
    """Hold SIGINT back while a submit may start a worker: the worker inherits the blocked signal and never sees
    a Ctrl-C (no traceback from it); this process gets its Ctrl-C when the block ends and stops the pool."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),))


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[Iterator[tuple[T, R]]]:
    """``(item, fn(item))`` in the order of ``items``, computed by ``workers`` processes and by this one.

    The pool starts and gets its first items on entry, so the workers compute while the caller still prepares
    (bulk enrolment loads its database layer meanwhile). The caller consumes each result with work of its own,
    so this process computes an item only when it would otherwise wait: when the next result is not ready and
    the pool already holds two items per worker. The pool is topped up before every hand-over, so it never idles
    while the caller works, and at most ``4 * workers + 2`` items are read ahead of the caller. Leaving the block
    drops what is not started. ``fn`` and the items must pickle; with ``workers`` < 1 everything runs here.
    """
    if workers < 1:
        yield ((item, fn(item)) for item in items)
        return
    with process_pool(workers) as pool:
        mapper = _OrderedMap(fn, iter(items), workers, pool)
        mapper.feed()
        try:
            yield mapper.results()
        finally:
            mapper.drop()


class _OrderedMap(Generic[T, R]):
    def __init__(self, fn: Callable[[T], R], items: Iterator[T], workers: int, pool: ProcessPoolExecutor) -> None:
        self.fn, self.items, self.workers, self.pool = fn, items, workers, pool
        self.limit = 4 * workers + 2
        self.pending: deque[tuple[T, Future[R] | tuple[R]]] = deque()
        self.exhausted = False

    def take(self) -> tuple[T] | None:
        """The next item (boxed, as an item may be falsy), unless read-ahead is at its limit or none is left."""
        if self.exhausted or len(self.pending) >= self.limit:
            return None
        for item in self.items:
            return (item,)
        self.exhausted = True
        return None

    def feed(self) -> None:
        """Give the pool items until it holds two per worker."""
        while sum(isinstance(f, Future) and not f.done() for _, f in self.pending) < 2 * self.workers:
            box = self.take()
            if box is None:
                return
            with _interrupts_for_this_process_only():
                future = self.pool.submit(self.fn, box[0])
            self.pending.append((box[0], future))

    def results(self) -> Iterator[tuple[T, R]]:
        while True:
            self.feed()
            if not self.pending:
                return
            head, result = self.pending[0]
            if isinstance(result, Future) and not result.done() and (box := self.take()) is not None:
                self.pending.append((box[0], (self.fn(box[0]),)))  # the pool is behind: compute one here meanwhile
                continue
            self.pending.popleft()
            yield head, result.result() if isinstance(result, Future) else result[0]

    def drop(self) -> None:
        for _, result in self.pending:
            if isinstance(result, Future):
                result.cancel()
        self.pending.clear()
