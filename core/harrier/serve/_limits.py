"""What one request, the queue and a connection may hold or take, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from harrier._errors import ConfigurationError


@dataclass(frozen=True)
class ServeLimits:
    """What one request and the queue may hold, how batches are formed, and how long a client
    may take to send a request."""

    max_texts_per_request: int = 2048
    max_tokens_per_request: int = 300_000
    max_request_bytes: int = 4 * 2**20
    """Larger bodies are refused from their Content-Length, before a byte of them is read.

    Sized by the largest legal request: ``max_texts_per_request`` texts of 32,768 tokens would
    be 67M tokens, but ``max_tokens_per_request`` bounds a request at 300,000: 1.2-1.5 MB of
    plain text (4-5 bytes a token), about 2.7 MB of CJK sent ``\\u``-escaped (Python's
    ``json.dumps`` default: 6 bytes a character, 1-1.5 characters a token), up to 3.6 MB of
    emoji (a 12-byte surrogate pair a token; text whose tokens each cover several escaped
    characters can take more: sent as UTF-8 it takes a third). A body of 4 MiB is read and
    parsed (off the event loop) in a few ms of CPU."""
    max_response_bytes: int = 64 * 2**20
    """Largest ``/tokenize`` answer (the other routes' answers are bounded by the texts)."""
    max_queue_texts: int = 8192
    max_queue_tokens: int = 2**20
    max_batch_requests: int = 256
    batch_wait_ms: float = 5.0
    retry_after_s: int = 1
    header_timeout_s: float = 10.0
    """From connecting (or the end of the previous answer) to a request's complete headers."""
    body_timeout_s: float = 60.0
    """From a request's headers to the end of its body."""
    keep_alive_s: float = 5.0
    """An idle keep-alive connection is closed after this long."""
    max_connections: int = 1024
    """Connections (and requests in flight) at once; more get 503."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0 or (value == 0 and name != "batch_wait_ms"):
                raise ConfigurationError(f"{name}={value} must be positive")
        if self.max_queue_tokens < self.max_tokens_per_request:
            raise ConfigurationError(
                "max_queue_tokens must be at least max_tokens_per_request, "
                "or a largest allowed request could never be queued"
            )
