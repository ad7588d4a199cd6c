"""HTTP plumbing shared by the routes: OpenAI-style errors, body parsing, the API key check."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response


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


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; 400 on invalid UTF-8 or JSON, 413 when too big."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > max_bytes:
        raise _too_big(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_big(max_bytes)
    try:
        text = bytes(body).decode("utf-8")
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
    if not isinstance(value, dict):
        raise bad_request(
            f"the request body must be a JSON object, not {kind(value)}", code="invalid_type"
        )
    return value


def _too_big(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is over the limit of {max_bytes} bytes "
        "(--max-request-bytes); send fewer or shorter texts per request",
        param="input",
        code="request_too_large",
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
