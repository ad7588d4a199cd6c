"""Spread the batches of one call over model replicas, one per device, one thread each.

Batches are assigned before any runs, longest first, each to the replica with the fewest tokens
so far (the classic longest-processing-time rule): the split is deterministic and even to
within one batch. Each replica runs its batches in order on its own thread (torch releases the
GIL inside kernels); the first failure stops the others after their current batch, is logged
with the failing replica's device and raised with that device in a note (Python 3.11+).
"""

from __future__ import annotations

import heapq
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

logger = logging.getLogger("harrier")

Job = TypeVar("Job")


def assign(costs: Sequence[int], replicas: int) -> list[list[int]]:
    """Job indices per replica, each replica's in the order they were given."""
    shares: list[list[int]] = [[] for _ in range(replicas)]
    loads = [(0, r) for r in range(replicas)]
    for job in sorted(range(len(costs)), key=lambda j: -costs[j]):
        load, replica = heapq.heappop(loads)
        shares[replica].append(job)
        heapq.heappush(loads, (load + costs[job], replica))
    return [sorted(share) for share in shares]


def spread(
    jobs: Sequence[Job],
    costs: Sequence[int],
    run: Callable[[Job, int], None],
    devices: Sequence[str],
) -> None:
    """``run(job, replica)`` for every job, the jobs spread over ``devices`` by :func:`assign`."""
    if len(devices) == 1:
        for job in jobs:
            run(job, 0)
        return
    failures: list[tuple[str, BaseException]] = []
    stop = threading.Event()

    def work(replica: int, share: list[int]) -> None:
        for j in share:
            if stop.is_set():
                return
            try:
                run(jobs[j], replica)
            except BaseException as exc:  # carried to the caller's thread below
                logger.error("embedding failed on the replica on %s: %s", devices[replica], exc)
                failures.append((devices[replica], exc))
                stop.set()
                return

    threads = [
        threading.Thread(target=work, args=(r, share), name=f"harrier-{devices[r]}", daemon=True)
        for r, share in enumerate(assign(costs, len(devices)))
        if share
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        device, exc = failures[0]
        if sys.version_info >= (3, 11):  # on 3.10 the log above names it
            exc.add_note(f"raised by the model replica on {device}")
        raise exc
