"""The embedding routes: OpenAI ``/v1/embeddings``, TEI ``/embed`` and ``/tokenize``, models."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from harrier import __version__
from harrier.serve._engine import Key
from harrier.serve._http import (
    ApiError,
    b64_float32,
    bad_request,
    field,
    json_response,
    texts_field,
)

if TYPE_CHECKING:
    from harrier.serve._app import ServerState

_INPUT_TYPES = ("query", "document")


def embedding_routes(state: ServerState) -> APIRouter:
    """Routes bound to ``state`` (the engine appears in it once loaded)."""
    router = APIRouter()

    @router.post("/v1/embeddings")
    async def openai_embeddings(request: Request) -> Response:
        served, body = await state.body(request)
        texts = texts_field(body, "input")
        input_type = _model_input_type(state, body)
        encoding = field(body, "encoding_format", str, "float", choices=("float", "base64"))
        dimensions = field(body, "dimensions", int)
        if dimensions is not None and dimensions != served.engine.dimension:
            raise bad_request(
                f"'dimensions'={dimensions} is not supported: Harrier is not Matryoshka-trained, "
                f"so truncated vectors lose quality silently; omit it (vectors have "
                f"{served.engine.dimension} dimensions)",
                param="dimensions",
                code="unsupported_dimensions",
            )
        key = _key(body, input_type, truncate=field(body, "truncate", bool, False))
        vectors, tokens = await served.embed(request, texts, key, "input")
        encode = b64_float32 if encoding == "base64" else (lambda row: row.tolist())
        return json_response(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": encode(row)}
                    for i, row in enumerate(vectors)
                ],
                "model": body.get("model") or state.served_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    @router.post("/embed")
    async def tei_embed(request: Request) -> Response:
        served, body = await state.body(request)
        texts = texts_field(body, "inputs")
        if not field(body, "normalize", bool, True):
            raise bad_request(
                "'normalize': false is not supported: harrier serves the "
                "L2-normalised vectors the model was trained for",
                param="normalize",
                code="unsupported_value",
            )
        field(body, "truncation_direction", str, "Right", choices=("Right", "right"))
        input_type = "query" if body.get("prompt_name") is not None else "document"
        key = _key(body, input_type, truncate=field(body, "truncate", bool, False))
        vectors, _ = await served.embed(request, texts, key, "inputs")
        return json_response(vectors.tolist())

    @router.post("/tokenize")
    async def tei_tokenize(request: Request) -> Response:
        served, body = await state.body(request)
        texts = texts_field(body, "inputs")
        special = field(body, "add_special_tokens", bool, True)
        input_type = "query" if body.get("prompt_name") is not None else "document"
        prompt = served.prompt(_key(body, input_type, truncate=False))
        if len(texts) > state.limits.max_texts_per_request:
            raise ApiError(
                413,
                f"{len(texts)} texts in one request, over the limit of "
                f"{state.limits.max_texts_per_request}",
                param="inputs",
                code="too_many_inputs",
            )
        full = [prompt + text for text in texts]
        return json_response(await run_in_threadpool(_tokens, served.engine, full, special))

    @router.get("/v1/models")
    async def models(request: Request) -> Response:
        state.ready(request)
        name = state.served_name
        return json_response(
            {
                "object": "list",
                "data": [
                    {"id": model_id, "object": "model", "created": 0, "owned_by": "harrier"}
                    for model_id in (name, f"{name}:query", f"{name}:document")
                ],
            }
        )

    @router.get("/info")
    async def info(request: Request) -> Response:
        engine = state.ready(request).engine
        return json_response(
            {
                "model_id": state.served_name,
                "model_dtype": str(engine.dtype).split(".")[-1],
                "model_type": {"embedding": {"pooling": "last_token"}},
                "max_input_length": engine.max_tokens,
                "dimension": engine.dimension,
                "max_client_batch_size": state.limits.max_texts_per_request,
                "max_batch_tokens": engine.max_batch_tokens,
                "prompts": engine.prompts,
                "default_query_prompt": engine.query_prompt(),
                "version": __version__,
                "router": "harrier",
                "identity": dataclasses.asdict(engine.identity),
            }
        )

    return router


def _model_input_type(state: ServerState, body: dict[str, Any]) -> str:
    """``input_type`` (default document); the model alias ``<name>:query`` selects queries."""
    model = field(body, "model", str)
    input_type = field(body, "input_type", str, choices=_INPUT_TYPES)
    name = state.served_name
    aliases = {name: None, f"{name}:query": "query", f"{name}:document": "document"}
    if model is not None and model not in aliases:
        raise ApiError(
            404,
            f"model {model!r} is not served here; use one of {list(aliases)}",
            param="model",
            code="model_not_found",
        )
    implied = aliases.get(model) if model is not None else None
    if implied and input_type and implied != input_type:
        raise bad_request(
            f"model {model!r} selects {implied}s but input_type is {input_type!r}",
            param="input_type",
        )
    return input_type or implied or "document"


def _key(body: dict[str, Any], input_type: str, *, truncate: bool) -> Key:
    instruction = field(body, "instruction", str)
    prompt_name = field(body, "prompt_name", str)
    if input_type == "document" and (instruction is not None or prompt_name is not None):
        raise bad_request(
            "documents are embedded without a prompt: 'instruction' and "
            "'prompt_name' need input_type 'query'",
            param="input_type",
        )
    return Key(input_type, instruction, prompt_name, truncate)


def _tokens(engine: Any, texts: list[str], special: bool) -> list[list[dict[str, Any]]]:
    """TEI's /tokenize answer: per text, each token's id, text, special flag, char offsets."""
    tokenizer = engine.tokenizer
    with engine._loaded.tokenizer_lock:
        encoded = tokenizer(
            texts,
            add_special_tokens=special,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
    specials = set(tokenizer.all_special_ids)
    out = []
    for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        pieces = tokenizer.convert_ids_to_tokens(ids)
        out.append(
            [
                {
                    "id": int(i),
                    "text": piece,
                    "special": int(i) in specials,
                    "start": int(start),
                    "stop": int(stop),
                }
                for i, piece, (start, stop) in zip(ids, pieces, offsets, strict=True)
            ]
        )
    return out
