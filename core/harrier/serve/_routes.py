"""Every route: OpenAI ``/v1/embeddings``, TEI ``/embed`` and ``/tokenize``, and the service
routes (``/v1/models``, ``/info``, ``/health``, ``/metrics``, ``/tokenizer``)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from harrier import __version__
from harrier.serve._budget import tokenize_answer
from harrier.serve._engine import Key
from harrier.serve._http import ApiError, b64_float32, bad_request, check_api_key, json_response
from harrier.serve._schemas import EmbeddingsRequest, EmbedRequest, TokenizeRequest
from harrier.serve._state import ServerState

PATHS = (
    "/v1/embeddings",
    "/embed",
    "/tokenize",
    "/v1/models",
    "/info",
    "/tokenizer",
    "/health",
    "/metrics",
)
"""The routes, as the metrics label them (anything else is "other")."""


def routes(state: ServerState) -> APIRouter:
    """The routes bound to ``state`` (the engine appears in it once loaded)."""
    router = APIRouter()

    @router.post("/v1/embeddings")
    async def openai_embeddings(request: Request) -> Response:
        served, body = await state.body(request)
        parsed = EmbeddingsRequest.parse(body)
        input_type = _input_type(state, parsed.model, parsed.input_type)
        if parsed.dimensions is not None and parsed.dimensions != served.engine.dimension:
            raise bad_request(
                f"'dimensions'={parsed.dimensions} is not supported: Harrier is not "
                "Matryoshka-trained, so truncated vectors lose quality silently; omit it "
                f"(vectors have {served.engine.dimension} dimensions)",
                param="dimensions",
                code="unsupported_dimensions",
            )
        key = _key(input_type, parsed.instruction, parsed.prompt_name, parsed.truncate)
        vectors, tokens = await served.embed(request, parsed.input, key, "input")
        encode = b64_float32 if parsed.encoding_format == "base64" else (lambda row: row.tolist())
        return json_response(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": encode(row)}
                    for i, row in enumerate(vectors)
                ],
                "model": parsed.model or state.served_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    @router.post("/embed")
    async def tei_embed(request: Request) -> Response:
        served, body = await state.body(request)
        parsed = EmbedRequest.parse(body)
        key = _key(parsed.input_type, parsed.instruction, parsed.prompt_name, parsed.truncate)
        vectors, _ = await served.embed(request, parsed.inputs, key, "inputs")
        return json_response(vectors.tolist())

    @router.post("/tokenize")
    async def tei_tokenize(request: Request) -> Response:
        served, body = await state.body(request)
        parsed = TokenizeRequest.parse(body)
        key = _key(parsed.input_type, parsed.instruction, parsed.prompt_name, truncate=False)
        prompt = served.prompt(key)
        answer = await run_in_threadpool(
            tokenize_answer,
            served.tokenizer,
            [prompt + text for text in parsed.inputs],
            special=parsed.add_special_tokens,
            limits=state.limits,
        )
        return Response(answer, media_type="application/json")

    @router.get("/v1/models")
    async def models(request: Request) -> Response:
        state.ready(request)
        return json_response(
            {
                "object": "list",
                "data": [
                    {"object": "model", "id": model_id, "created": 0, "owned_by": "harrier"}
                    for model_id in _aliases(state)
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

    @router.get("/health")
    async def health() -> Response:
        if state.served is None:
            status = "failed" if state.error else "loading"
            return JSONResponse(
                {"status": status, "error": state.error},
                status_code=503,
                headers={"Retry-After": str(state.limits.retry_after_s)},
            )
        return JSONResponse({"status": "ok", "model": state.served_name})

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        check_api_key(request, state.key)
        if state.served is not None:
            state.metrics.queue_depth.set(state.served.batcher.queued_texts)
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    @router.get("/tokenizer")
    async def tokenizer(request: Request) -> Response:
        state.ready(request)
        return JSONResponse({"files": state.tokenizer_files})

    return router


def _aliases(state: ServerState) -> dict[str, str | None]:
    """Every model id clients may send, with the input type it selects (None: the request's)."""
    aliases: dict[str, str | None] = {}
    for name in state.served_names:
        aliases.update({name: None, f"{name}:query": "query", f"{name}:document": "document"})
    return aliases


def _input_type(state: ServerState, model: str | None, input_type: str | None) -> str:
    """``input_type`` (default document); the model alias ``<name>:query`` selects queries."""
    aliases = _aliases(state)
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


def _key(input_type: str, instruction: str | None, prompt_name: str | None, truncate: bool) -> Key:
    if input_type == "document" and (instruction is not None or prompt_name is not None):
        raise bad_request(
            "documents are embedded without a prompt: 'instruction' and "
            "'prompt_name' need input_type 'query'",
            param="input_type",
        )
    return Key(input_type, instruction, prompt_name, truncate)
