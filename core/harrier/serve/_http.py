"""HTTP plumbing shared by the routes: OpenAI-style errors, body parsing, the API key check."""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect


class ApiError(Exception):
    """A request that fails with ``status`` and an OpenAI-style error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.details = details or {}
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
                **self.details,
            }
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


class BodyTimeout(Exception):
    """The client did not send the request body in time (raised by the body-timeout guard)."""


class Disconnected(Exception):
    """The client closed the connection before its answer was ready."""


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""Where a lone surrogate can come from: raw UTF-8 cannot encode one, only a JSON escape."""

PARSE_IN_THREAD_BYTES = 1 << 18
"""Bodies at least this large are decoded and parsed in a worker thread, not on the event loop.

Each step (UTF-8 check, ``json.loads``, the escape scan) is one C call holding the GIL, a few
ms for a 4 MiB body; from a thread the event loop runs between them (and other requests'
small bodies are read and answered meanwhile) rather than waiting for the whole sequence."""


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; 400 on invalid UTF-8, JSON or Unicode (a lone
    surrogate) or nesting too deep to parse, 413 when too big (from ``Content-Length`` before
    a byte of the body is read, else as soon as more than ``max_bytes`` arrived), 408 when it
    comes too slowly. A large body is parsed in a worker thread (``PARSE_IN_THREAD_BYTES``)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise _too_big(max_bytes)
    except ClientDisconnect:
        raise Disconnected from None
    except BodyTimeout as exc:
        raise ApiError(
            408,
            f"the request body did not arrive within {exc} s; send it at once",
            code="request_timeout",
            headers={"Connection": "close"},
        ) from None
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    del chunks
    if size >= PARSE_IN_THREAD_BYTES:
        return await run_in_threadpool(parse_json, body)
    return parse_json(body)


def parse_json(body: bytes) -> dict[str, Any]:
    """``body`` as a JSON object (see :func:`read_json` for the 400s)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"the request body is not valid UTF-8 (byte {exc.start})", code="invalid_utf8"
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    except RecursionError:
        raise bad_request(
            "the request body is nested too deeply to parse", code="invalid_json"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise bad_request(
            f"the request body holds an invalid value: {exc}", code="invalid_json"
        ) from None
    del text  # a large body is not kept twice while the rest is checked
    if b"\\" in body and _SURROGATE_ESCAPE.search(body):
        # only where a JSON escape could hold one: a backslash is found by memchr (a 4 MB body
        # in 0.05 ms; a search for "\\ud" costs 10 ms), the pattern only in bodies with escapes
        _check_unicode(value)
    if not isinstance(value, dict):
        raise bad_request(
            f"the request body must be a JSON object, not {kind(value)}", code="invalid_type"
        )
    return value


def _check_unicode(value: Any) -> None:
    """400 naming the first string (or key) holding a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                where = f"'{path}'" if path else "the request"
                raise bad_request(
                    f"{where} holds a lone surrogate (an unpaired \\ud800-\\udfff escape): not "
                    "valid Unicode; send UTF-8 text or escape characters as surrogate pairs",
                    param=path or None,
                    code="invalid_unicode",
                )
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not _encodable(key):
                    raise bad_request(
                        "a key of the request holds a lone surrogate: not valid Unicode",
                        code="invalid_unicode",
                    )
                stack.append((f"{path}.{key}" if path else key, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in enumerate(item))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_big(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is over the limit of {max_bytes} bytes "
        "(--max-request-bytes); send fewer or shorter texts per request",
        param="input",
        code="request_too_large",
        headers={"Connection": "close"},  # the rest of the body is not read
    )


def check_api_key(request: Request, key: bytes | None) -> None:
    """Require ``Authorization: Bearer <key>`` when a key is set (constant-time compare)."""
    if key is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key):
        raise ApiError(
            401,
            "missing or invalid API key: send 'Authorization: Bearer <key>'",
            type="authentication_error",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


def kind(value: object) -> str:
    """A JSON-ish name for the type of ``value``, for error messages."""
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def b64_float32(row: Any) -> str:
    """A vector as base64 of little-endian float32 bytes (what OpenAI clients decode)."""
    return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")


def json_response(body: object) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
