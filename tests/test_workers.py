"""`ordered_map`: results in input order, from real spawned workers and from this process, with bounded read-ahead."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path

import pytest

from per_cli.workers import ordered_map


def square_where(item: int) -> tuple[int, int]:
    """``item``², and the process that computed it; slow in a worker, so that the caller has to help."""
    if multiprocessing.parent_process() is not None:
        time.sleep(0.05)
    return item * item, os.getpid()


def fail_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError("seven")
    return item


def test_results_come_in_input_order_and_this_process_helps_a_slow_pool() -> None:
    results = _all(square_where, range(40), workers=1)
    assert [item for item, _ in results] == list(range(40))
    assert [value for _, (value, _) in results] == [i * i for i in range(40)]
    pids = {pid for _, (_, pid) in results}
    assert os.getpid() in pids, "the caller never computed an item although the worker was slower"
    assert len(pids) == 2, "the worker computed nothing"


def test_read_ahead_is_bounded() -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for i in range(60):
            pulled += 1
            yield i

    ahead = []
    with ordered_map(square_where, items(), workers=1) as results:
        for done, (item, _) in enumerate(results, start=1):
            ahead.append(pulled - done)
            assert item >= 0
    assert max(ahead) <= 4 * 1 + 2
    assert pulled == 60


def test_no_workers_computes_everything_here() -> None:
    results = _all(square_where, [3, 0, 2], workers=0)
    assert results == [(3, (9, os.getpid())), (0, (0, os.getpid())), (2, (4, os.getpid()))]


@pytest.mark.parametrize("workers", [0, 1])
def test_an_error_in_fn_reaches_the_caller_after_the_results_before_it(workers: int) -> None:
    seen = []
    with pytest.raises(ValueError, match="seven"), ordered_map(fail_on_seven, range(20), workers=workers) as results:
        for item, value in results:
            seen.append((item, value))
    assert seen == [(i, i) for i in range(7)]


def test_the_pool_starts_working_on_entry_before_the_first_result_is_asked_for(tmp_path: Path) -> None:
    with ordered_map(partial(mark, tmp_path), range(10), workers=1) as results:
        deadline = time.monotonic() + 60  # a generous bound for a spawn on a loaded machine; not a speed claim
        while not (tmp_path / "0").exists():
            assert time.monotonic() < deadline, "the worker never started although the block was entered"
            time.sleep(0.01)
        first = next(results)
    assert first[0] == 0
    assert first[1] != os.getpid()


def mark(directory: Path, item: int) -> int:
    """Leave a file named after the item, from the process that computes it."""
    (directory / str(item)).write_text(str(os.getpid()))
    return os.getpid()


def _all(
    fn: Callable[[int], tuple[int, int]], items: Iterable[int], *, workers: int
) -> list[tuple[int, tuple[int, int]]]:
    with ordered_map(fn, items, workers) as results:
        return list(results)
