"""Prometheus metrics of one server, in a registry of its own (several apps per process)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Metrics:
    """Requests, tokens, batch sizes, queue depth and latency of one server."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "harrier_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.tokens = Counter(
            "harrier_tokens", "Tokens embedded (prompt tokens included)", ["input_type"], registry=r
        )
        self.texts = Counter("harrier_texts", "Texts embedded", ["input_type"], registry=r)
        self.batch_texts = Histogram(
            "harrier_batch_texts", "Texts per engine call", buckets=_SIZES, registry=r
        )
        self.batch_requests = Histogram(
            "harrier_batch_requests",
            "Requests embedded together in one engine call",
            buckets=_SIZES,
            registry=r,
        )
        self.batch_tokens = Histogram(
            "harrier_batch_tokens",
            "Tokens per engine call",
            buckets=tuple(64 * 2**i for i in range(14)),
            registry=r,
        )
        self.queue_depth = Gauge("harrier_queue_depth", "Texts waiting for the engine", registry=r)
        self.in_flight = Gauge("harrier_requests_in_flight", "Requests being handled", registry=r)
        self.rejected = Counter(
            "harrier_rejected", "Requests refused because the queue was full", registry=r
        )
        self.latency = Histogram(
            "harrier_request_latency_seconds",
            "Time from request to response",
            ["endpoint"],
            buckets=_LATENCY,
            registry=r,
        )

    def on_batch(self, requests: int, texts: int, tokens: int) -> None:
        self.batch_requests.observe(requests)
        self.batch_texts.observe(texts)
        self.batch_tokens.observe(tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
