"""``harrier serve``: its options, and starting the server (FastAPI is imported only here)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from harrier._errors import ConfigurationError
from harrier._settings import DEFAULT_MODEL

MODEL_HELP = f"Hub id or local folder (default {DEFAULT_MODEL})"
"""The ``--model`` help of every command (harrier._settings loads no torch)."""

SERVE_EPILOG = """examples:
  harrier serve --model microsoft/harrier-oss-v1-270m
  HARRIER_KEY=secret harrier serve --model ./my-model --api-key-env HARRIER_KEY --port 9000

endpoints: POST /v1/embeddings (OpenAI), POST /embed and /tokenize (text-embeddings-inference),
GET /v1/models, /info, /health, /metrics (Prometheus), /tokenizer (for harrier.RemoteEmbedder).
"""


def add_serve_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "serve",
        help="serve the model over HTTP (OpenAI and TEI compatible)",
        description="Serve one model over HTTP; concurrent requests are embedded together.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--model", metavar="NAME_OR_PATH", help=MODEL_HELP)
    serve.add_argument(
        "--served-model-name",
        metavar="NAME",
        action="append",
        help="a model id clients may send (repeat for aliases; the first is reported); "
        "default: the Hub id (of a Hub snapshot folder, or named in its config.json), "
        "and --model as given",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    serve.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda if present)")
    serve.add_argument(
        "--devices",
        type=lambda text: text.split(","),
        help="several devices, one model replica each, every batch spread over them: cuda:0,cuda:1",
    )
    serve.add_argument("--dtype", help="float32 or bfloat16 (default: bf16 on CUDA)")
    serve.add_argument(
        "--compile",
        action="store_true",
        help="CUDA: run the torch.compile-fused forward, for queries and document batches "
        "(compiled before the server turns ready, tens of seconds)",
    )
    serve.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="longest text in tokens (default: the model's limit)",
    )
    serve.add_argument(
        "--max-batch-tokens",
        type=int,
        metavar="N",
        help="padded tokens per forward pass (default 65536 CUDA, 8192 CPU)",
    )
    serve.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require 'Authorization: Bearer KEY', KEY read from this environment variable",
    )
    limits = serve.add_argument_group("limits")
    _add_defaulted(
        limits,
        "N",
        ("--max-texts-per-request", 2048, "texts in one request (413 above)"),
        ("--max-tokens-per-request", 300_000, "tokens in one request (413 above)"),
        ("--max-request-bytes", 4 * 2**20, "request body size (413 above)"),
        ("--max-response-bytes", 64 * 2**20, "/tokenize answer size (413 above)"),
        ("--max-queue-texts", 8192, "texts waiting for the engine (429 above)"),
        ("--max-queue-tokens", 2**20, "tokens waiting for the engine (429 above)"),
        ("--max-batch-requests", 256, "requests embedded together (1: one at a time)"),
        ("--max-connections", 1024, "open connections and requests in flight (503 above)"),
    )
    limits.add_argument(
        "--batch-wait-ms",
        type=float,
        default=5.0,
        metavar="MS",
        help="longest wait for more requests to fill a batch (default 5)",
    )
    _add_defaulted(
        limits,
        "S",
        ("--header-timeout", 10.0, "seconds to send a request's headers"),
        ("--body-timeout", 60.0, "seconds to send a request's body (408 after)"),
        ("--keep-alive", 5.0, "seconds an idle keep-alive connection stays open"),
    )
    limits.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="on SIGTERM, seconds to finish in-flight requests (default 30)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log every request line")
    return serve


def _add_defaulted(
    group: argparse._ArgumentGroup, metavar: str, *options: tuple[str, float, str]
) -> None:
    """Numeric options ``(flag, default, help)``, of their default's type; the help ends with
    the default."""
    for flag, default, text in options:
        shown = f"{default:g}" if isinstance(default, float) else default
        group.add_argument(
            flag,
            type=type(default),
            default=default,
            metavar=metavar,
            help=f"{text}; default {shown}",
        )


def run_serve(args: argparse.Namespace) -> int:
    """Bind, announce the address on stderr, serve until SIGTERM; 1 if the model failed."""
    try:
        from harrier.serve import ServeLimits, bind, run_server
    except ImportError as exc:
        raise ConfigurationError(str(exc)) from exc
    from harrier._embedder import Embedder
    from harrier._graphs import ROW_BUCKETS
    from harrier._settings import EmbedderSettings

    args.model = args.model or DEFAULT_MODEL
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise ConfigurationError(
                f"--api-key-env {args.api_key_env}: that environment variable is not set or empty"
            )
    limits = ServeLimits(
        max_texts_per_request=args.max_texts_per_request,
        max_tokens_per_request=args.max_tokens_per_request,
        max_request_bytes=args.max_request_bytes,
        max_response_bytes=args.max_response_bytes,
        max_queue_texts=args.max_queue_texts,
        max_queue_tokens=args.max_queue_tokens,
        max_batch_requests=args.max_batch_requests,
        batch_wait_ms=args.batch_wait_ms,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        keep_alive_s=args.keep_alive,
        max_connections=args.max_connections,
    )

    settings = EmbedderSettings(  # checked before binding: a bad setting never listens
        args.model,
        device=args.device,
        devices=args.devices,
        dtype=args.dtype,
        max_tokens=args.max_tokens,
        max_batch_tokens=args.max_batch_tokens,
        compile=args.compile,
    )

    def load() -> Any:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the ready line says when it is loaded
        engine = Embedder.from_settings(settings)
        if args.compile:  # compile now, not on a client's time: graphs of one query and of
            # several, and a packed batch (more rows than the graphs take)
            for batch in (["warm-up"], ["warm-up", "compile"]):
                engine.embed_queries(batch)
            engine.embed_documents(["warm-up"] * (ROW_BUCKETS[-1] + 1))
        return engine

    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"harrier serve: listening on http://{shown}:{port} "
        f"(model {args.model} loading; /health turns 200 when ready)\n"
    )
    sys.stderr.flush()
    error = run_server(
        load,
        sock,
        limits=limits,
        api_key=api_key,
        served_names=args.served_model_name or (),
        drain_timeout=args.drain_timeout,
        access_log=args.verbose,
    )
    if error is not None:
        raise ConfigurationError(f"the model could not be loaded: {error}")
    return 0
