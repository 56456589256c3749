"""Run one function over many files on all cores, results in input order.

``check`` of an inbox, ``collect`` and ``batch`` are embarrassingly parallel: each file is read,
judged and summarised alone. Worker processes (fork, so they start in milliseconds and inherit
what the parent already imported) return the small result objects; the parent yields them in the
order of the input, so output never depends on which worker finished first. Below a handful of
files, or with one job, everything stays in the calling process: a pool costs more than it saves.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: fewer items than this are done in the calling process
SERIAL_BELOW = 4


def default_jobs() -> int:
    """The cores this process may run on (affinity-aware where the platform says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def map_files(func: Callable[[T], R], items: Iterable[T], jobs: int | None = None) -> Iterator[R]:
    """``func`` over ``items``, in order. ``jobs`` None or 0: all cores; 1: this process only.

    ``func`` and the items must be picklable (a module-level function, or a functools.partial of
    one). An exception in ``func`` is re-raised here, as with ``map``."""
    items = list(items)
    n = default_jobs() if not jobs else max(1, jobs)
    n = min(n, len(items))
    if n <= 1 or len(items) < SERIAL_BELOW:
        yield from map(func, items)
        return
    import multiprocessing  # here: a one-file check should not pay for importing the pool machinery
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    # several items per task: per-task overhead (pickling, a pipe round trip) is ~1 ms
    chunksize = max(1, min(16, len(items) // (n * 4)))
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as ex:
        yield from ex.map(func, items, chunksize=chunksize)
