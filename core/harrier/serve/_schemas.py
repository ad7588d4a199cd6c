"""The wire types: each route's request body as a typed value, parsed with OpenAI-style errors.

Handlers (``_routes.py``) receive these, never raw dictionaries; a field's type, default and
allowed values are stated once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harrier.serve._http import bad_request, kind

INPUT_TYPES = ("query", "document")


@dataclass(frozen=True)
class EmbeddingsRequest:
    """OpenAI ``POST /v1/embeddings`` (plus harrier's ``input_type``, ``instruction``,
    ``prompt_name`` and ``truncate``)."""

    input: list[str]
    model: str | None = None
    input_type: str | None = None
    encoding_format: str = "float"
    dimensions: int | None = None
    truncate: bool = False
    instruction: str | None = None
    prompt_name: str | None = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> EmbeddingsRequest:
        return cls(
            input=texts_field(body, "input"),
            model=field(body, "model", str),
            input_type=field(body, "input_type", str, choices=INPUT_TYPES),
            encoding_format=field(
                body, "encoding_format", str, "float", choices=("float", "base64")
            ),
            dimensions=field(body, "dimensions", int),
            truncate=field(body, "truncate", bool, False),
            instruction=field(body, "instruction", str),
            prompt_name=field(body, "prompt_name", str),
        )


@dataclass(frozen=True)
class EmbedRequest:
    """text-embeddings-inference ``POST /embed``: a ``prompt_name`` makes the inputs queries."""

    inputs: list[str]
    truncate: bool = False
    instruction: str | None = None
    prompt_name: str | None = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> EmbedRequest:
        inputs = texts_field(body, "inputs")
        if not field(body, "normalize", bool, True):
            raise bad_request(
                "'normalize': false is not supported: harrier serves the "
                "L2-normalised vectors the model was trained for",
                param="normalize",
                code="unsupported_value",
            )
        field(body, "truncation_direction", str, "Right", choices=("Right", "right"))
        return cls(
            inputs=inputs,
            truncate=field(body, "truncate", bool, False),
            instruction=field(body, "instruction", str),
            prompt_name=field(body, "prompt_name", str),
        )

    @property
    def input_type(self) -> str:
        return "query" if self.prompt_name is not None else "document"


@dataclass(frozen=True)
class TokenizeRequest:
    """text-embeddings-inference ``POST /tokenize``."""

    inputs: list[str]
    add_special_tokens: bool = True
    instruction: str | None = None
    prompt_name: str | None = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> TokenizeRequest:
        return cls(
            inputs=texts_field(body, "inputs"),
            add_special_tokens=field(body, "add_special_tokens", bool, True),
            instruction=field(body, "instruction", str),
            prompt_name=field(body, "prompt_name", str),
        )

    @property
    def input_type(self) -> str:
        return "query" if self.prompt_name is not None else "document"


def field(
    body: dict[str, Any],
    name: str,
    type_: type | tuple[type, ...],
    default: Any = None,
    *,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """``body[name]`` checked against ``type_`` (and ``choices``); ``default`` when absent/null."""
    value = body.get(name)
    if value is None:
        return default
    bad_bool = isinstance(value, bool) and bool not in (
        type_ if isinstance(type_, tuple) else (type_,)
    )
    if not isinstance(value, type_) or bad_bool:
        expected = (
            type_.__name__ if isinstance(type_, type) else "/".join(k.__name__ for k in type_)
        )
        raise bad_request(
            f"'{name}' must be {expected}, not {kind(value)}", param=name, code="invalid_type"
        )
    if choices is not None and value not in choices:
        raise bad_request(f"'{name}' must be one of {list(choices)}, not {value!r}", param=name)
    return value


def texts_field(body: dict[str, Any], name: str) -> list[str]:
    """A string or a non-empty list of strings, as a list."""
    if name not in body:
        raise bad_request(
            f"'{name}' is required: a string or a list of strings", param=name, code="missing_field"
        )
    value = body[name]
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise bad_request(
            f"'{name}' must be a string or a list of strings, not {kind(value)}",
            param=name,
            code="invalid_type",
        )
    if not value:
        raise bad_request(
            f"'{name}' is an empty list; send at least one text", param=name, code="empty_input"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise bad_request(
                f"'{name}[{i}]' is {kind(item)}, expected a string (token-id "
                "arrays are not accepted; send text)",
                param=f"{name}[{i}]",
                code="invalid_type",
            )
    return value
