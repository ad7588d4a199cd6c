"""Cross-request batching: one worker thread owns the engine and embeds queued requests together.

Requests are queued as jobs (their inputs: texts or token-id rows; how to embed them; their
token count). The worker
takes the oldest jobs up to a token budget, waiting at most ``max_wait`` seconds after the oldest
arrived for more to fill the budget, embeds each group of jobs that share settings in one engine
call (the engine then runs token-budget forward passes; queries on the prefix-cached path), and
hands each job exactly its own rows. The queue is bounded in texts and tokens: ``submit`` raises
:class:`QueueFull` rather than letting memory grow. A cancelled job leaves the queue at once.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger("harrier")

EmbedFn = Callable[[Any, list[Any]], np.ndarray]
"""Embeds inputs that share one key (how to embed them), returning one row per input."""


class QueueFull(Exception):
    """The queue holds as many texts or tokens as it may; the caller should retry later."""


class Closing(QueueFull):
    """The batcher is shutting down and takes no new work."""


@dataclass(eq=False)
class Job:
    key: Hashable
    texts: list[Any]  # texts, or their token-id rows
    tokens: int
    future: Future[np.ndarray] = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


class Batcher:
    """A bounded queue of jobs and the worker thread that embeds them in shared batches."""

    def __init__(
        self,
        embed: EmbedFn,
        *,
        max_batch_tokens: int,
        max_wait: float,
        max_queue_texts: int,
        max_queue_tokens: int,
        max_batch_requests: int,
        on_batch: Callable[[int, int, int], None] | None = None,
    ) -> None:
        self._embed = embed
        self.max_batch_tokens = max_batch_tokens
        self.max_wait = max_wait
        self.max_queue_texts = max_queue_texts
        self.max_queue_tokens = max_queue_tokens
        self.max_batch_requests = max_batch_requests
        self._on_batch = on_batch
        self._pending: deque[Job] = deque()
        self._texts = 0
        self._tokens = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="harrier-serve-worker", daemon=True)
        self._thread.start()

    @property
    def queued_texts(self) -> int:
        return self._texts

    def submit(self, key: Hashable, texts: list[Any], tokens: int) -> Future[np.ndarray]:
        """Queue ``texts``; the future gets their vectors. Raises QueueFull when full."""
        job = Job(key, texts, tokens)
        with self._cond:
            if self._closing:
                raise Closing("the server is shutting down")
            if self._pending and (
                self._texts + len(texts) > self.max_queue_texts
                or self._tokens + tokens > self.max_queue_tokens
            ):
                raise QueueFull(f"{self._texts} texts ({self._tokens} tokens) are queued")
            self._pending.append(job)
            self._texts += len(texts)
            self._tokens += tokens
            self._cond.notify()
        job.future.add_done_callback(functools.partial(self._forget, job))
        return job.future

    def close(self, timeout: float | None = None) -> None:
        """Embed what is queued, then stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _forget(self, job: Job, _: object = None) -> None:
        """Drop a cancelled job from the queue so it frees its slot now."""
        if not job.future.cancelled():
            return
        with self._cond:
            if job in self._pending:
                self._pending.remove(job)
                self._texts -= len(job.texts)
                self._tokens -= job.tokens

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            groups: dict[Hashable, list[Job]] = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for key, group in groups.items():
                self._embed_group(key, group)

    def _take(self) -> list[Job] | None:
        """The next jobs to embed (None once closing with nothing queued)."""
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait()
            deadline = self._pending[0].enqueued + self.max_wait
            while (
                not self._closing
                and self._tokens < self.max_batch_tokens
                and len(self._pending) < self.max_batch_requests
                and (left := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(left)
            taken: list[Job] = []
            tokens = 0
            while self._pending and len(taken) < self.max_batch_requests:
                job = self._pending[0]
                if taken and tokens + job.tokens > self.max_batch_tokens:
                    break
                self._pending.popleft()
                self._texts -= len(job.texts)
                self._tokens -= job.tokens
                if job.future.set_running_or_notify_cancel():
                    taken.append(job)
                    tokens += job.tokens
            return taken

    def _embed_group(self, key: Hashable, group: list[Job]) -> None:
        """One engine call for the group; on failure, each job alone (so errors stay its own)."""
        texts = [text for job in group for text in job.texts]
        started = time.perf_counter()
        try:
            vectors = self._embed(key, texts)
        except Exception as exc:
            if len(group) == 1:
                group[0].future.set_exception(exc)
                return
            logger.info(
                "a batch of %d requests failed (%s); embedding them one by one",
                len(group),
                type(exc).__name__,
            )
            for job in group:
                try:
                    job.future.set_result(self._embed(key, job.texts))
                except Exception as one:
                    job.future.set_exception(one)
            return
        logger.debug(
            "embedded %d requests (%d texts) in %.1f ms",
            len(group),
            len(texts),
            1000 * (time.perf_counter() - started),
        )
        if self._on_batch is not None:
            self._on_batch(len(group), len(texts), sum(job.tokens for job in group))
        start = 0
        for job in group:
            job.future.set_result(vectors[start : start + len(job.texts)])
            start += len(job.texts)
