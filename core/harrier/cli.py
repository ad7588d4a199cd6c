"""The ``harrier`` command: ingest a folder or JSON Lines file into a store, and search it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import textwrap
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from harrier._errors import HarrierError, ModelNotFoundError
from harrier._serve_command import MODEL_HELP, add_serve_parser, run_serve
from harrier._settings import DEFAULT_MODEL
from harrier.ingestion._options import IngestOptions, add_arguments
from harrier.ingestion._signals import RunInterrupted, exit_code, sigterm_interrupts

SLOW_LOADING = 5.0
"""A search whose loading takes longer than this (seconds) suggests a server."""

STORES = """stores (--store): qdrant (embedded Qdrant Edge in ./.harrier/qdrant, the default),
qdrant:PATH, qdrant:URL (API key from QDRANT_API_KEY); qdrant-local[:PATH] (qdrant-client's
local mode, as earlier versions wrote); milvus (Milvus Lite in ./.harrier/milvus.db),
milvus:PATH, milvus:URI (token from MILVUS_TOKEN).

engines (--engine): harrier (the model loaded here, the default), remote:URL (a `harrier serve`
server, key from HARRIER_API_KEY); a package adds its own kind (docs/writing-an-engine.md).
"""

EPILOG = (
    """examples:
  harrier ingest ./docs --collection docs
  harrier search "how do I reset my password?" --collection docs -k 3
  harrier search "error E1234" --collection docs --mode sparse
  harrier ingest ./docs --collection docs --store qdrant:http://localhost:6333 --prune
  harrier ingest corpus.jsonl --collection docs --store milvus:./milvus.db --json
  harrier ingest ./docs --collection docs --store milvus:http://localhost:19530 --ray auto
  harrier copy --from qdrant --to qdrant:http://localhost:6333 --collection docs
  harrier serve --model microsoft/harrier-oss-v1-270m --port 8080

"""
    + STORES
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harrier",
        description="Embed documents with Harrier-OSS-v1 into a vector store, and search it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_ingest(commands)
    _add_copy(commands)
    _add_search(commands)
    add_serve_parser(commands).set_defaults(run=run_serve)
    for sub in commands.choices.values():  # every subcommand, also those added elsewhere
        sub.allow_abbrev = False
    return parser


def _subcommand(
    commands: Any, name: str, run: Any, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand that runs ``run(args)`` and lists the store forms under its options."""
    sub = commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 88),
        epilog=STORES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.set_defaults(run=run, sigterm_stops=True)
    return sub


def _add_ingest(commands: Any) -> None:
    ingest = _subcommand(
        commands,
        "ingest",
        _ingest,
        help="split, embed and write documents (re-runs skip unchanged ones)",
        description="Split documents into spans, embed them and write them idempotently. "
        "SOURCE is a folder (text, Markdown, code; PDF, DOCX, PPTX, XLSX, ODT, ODP, ODS, HTML "
        "and EPUB with the documents extra, and DOC, XLS, PPT and RTF where LibreOffice is "
        "installed too; .gitignore files are honoured), a file, or a "
        'JSON Lines file of {"id", "text", "metadata"} objects. Progress goes to a bar on a '
        "terminal, else to a log line every 10 s; Ctrl-C stops within seconds, and the same "
        "command resumes.",
    )
    ingest.add_argument("source", metavar="SOURCE", help="a folder or a .jsonl file")
    add_arguments(ingest)
    ingest.add_argument(
        "--sparse",
        dest="sparse",
        action="store_const",
        const=True,
        help="a new collection must get BM25 vectors: a store without them is refused "
        "(default: BM25 where the store has it, with a warning where it does not)",
    )
    ingest.add_argument("--overlap", type=int, help=argparse.SUPPRESS)  # deprecated
    ingest.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray Data (pip install 'harrier-suite[ray]'; needs a store "
        "server): alone, a local Ray; auto or ray://HOST:10001 joins a cluster",
    )
    ingest.add_argument(
        "--actors",
        type=int,
        default=2,
        metavar="N",
        help="with --ray: embedding actors, one model each (default 2)",
    )
    ingest.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        metavar="F",
        help="with --ray: GPUs per embedding actor, e.g. 1 or 0.5 (default 0)",
    )
    _add_quantization(ingest)
    _add_engine_and_store(ingest)


def _add_copy(commands: Any) -> None:
    copy = _subcommand(
        commands,
        "copy",
        _copy,
        help="copy a collection between two stores (resumable)",
        description="Copy every span (ids, vectors, texts, metadata) of a collection from one "
        "store to another, e.g. from the embedded store to a server. Re-running copies only "
        "what is missing.",
    )
    copy.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="STORE",
        help="the store to read, as --store takes it",
    )
    copy.add_argument(
        "--to", dest="target", required=True, metavar="STORE", help="the store to write"
    )
    copy.add_argument("--collection", required=True, help="collection name (the same in both)")
    _add_quantization(copy)
    copy.add_argument("--json", action="store_true", help="machine-readable output")
    copy.add_argument("-q", "--quiet", action="store_true", help="no progress bar or lines")
    copy.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def _add_search(commands: Any) -> None:
    search = _subcommand(
        commands,
        "search",
        _search,
        help="find the spans nearest to a query",
        description="Embed QUERY with the query instruction and print the nearest spans. "
        "A dense or hybrid search loads the model (--mode sparse loads none); for many, run "
        "`harrier serve` once and pass --embedder.",
    )
    search.add_argument("query", metavar="QUERY")
    search.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    search.add_argument(
        "--query-instruction",
        metavar="TASK",
        help="task instruction for the query (default: the model's web search prompt)",
    )
    search.add_argument("--instruction", help=argparse.SUPPRESS)  # deprecated
    search.add_argument(
        "--mode",
        choices=["hybrid", "dense", "sparse"],
        help="hybrid (dense + BM25, fused), dense or sparse (BM25) (default: "
        "hybrid where the collection has BM25 vectors, else dense)",
    )
    _add_engine_and_store(search)


def _add_quantization(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--quantization",
        choices=["scalar", "binary"],
        help="Qdrant only, when the collection is created: int8 or 1-bit "
        "vectors in memory, rescored on the originals (default: none)",
    )


def _add_engine_and_store(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--collection", required=True, help="collection name")
    sub.add_argument(
        "--store",
        default="qdrant",
        metavar="KIND[:PATH_OR_URL]",
        help="where the collection lives (default: qdrant, embedded; the forms are below)",
    )
    sub.add_argument("--model", metavar="NAME_OR_PATH", help=MODEL_HELP)
    sub.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda if present)")
    sub.add_argument(
        "--devices",
        type=lambda text: text.split(","),
        help="several devices, one model replica each: cuda:0,cuda:1",
    )
    sub.add_argument(
        "--engine",
        metavar="KIND[:WHERE]",
        help="what embeds: harrier (the model loaded here, the default), remote:URL (a "
        "`harrier serve` server), or an installed engine package's kind",
    )
    sub.add_argument(
        "--embedder",
        metavar="URL",
        help="embed through a `harrier serve` server instead of loading the "
        "model here (API key from HARRIER_API_KEY); short for --engine remote:URL",
    )
    sub.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_argument("-v", "--verbose", action="store_true", help="log progress details")


_RENAMED = {"overlap": "overlap_tokens", "instruction": "query_instruction"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; deprecated spellings (``--overlap``, ``--instruction``) still work, with
    a warning on stderr, and give their value to the new option."""
    args = build_parser().parse_args(argv)
    for old, new in _RENAMED.items():
        value = getattr(args, old, None)
        if value is None:
            continue
        flag, new_flag = "--" + old, "--" + new.replace("_", "-")
        if getattr(args, new) is not None:
            _fail(f"pass {new_flag} only ({flag} is its deprecated spelling)")
        sys.stderr.write(f"harrier: warning: {flag} is deprecated; use {new_flag}\n")
        setattr(args, new, value)
    if getattr(args, "embedder", None) and getattr(args, "engine", None):
        _fail("pass --engine remote:URL or --embedder URL, not both")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command. Ctrl-C (and SIGTERM, but for ``serve``, which drains on it) ends the
    process at once with 130 (143), after saying what was done."""
    args = parse_args(argv)
    _configure_logging(args)
    stops = sigterm_interrupts() if getattr(args, "sigterm_stops", False) else nullcontext()
    try:
        with stops:
            code = int(args.run(args))
        if argv is None:  # a program: Ctrl-C after the work is done must not kill it by signal
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return code
    except ModelNotFoundError as exc:
        _fail(f"{exc}\nhint: pass --model PATH with a folder holding the model")
    except HarrierError as exc:
        _fail(str(exc))
    except RunInterrupted as exc:
        _stopped(exc, exc.report.summary())
    except KeyboardInterrupt as exc:
        _stopped(exc)
    return 1


def _configure_logging(args: argparse.Namespace) -> None:
    """Warnings on stderr (everything with -v); progress lines too, unless --quiet."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    progress = logging.getLogger("harrier.progress")
    progress.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    for old in list(progress.handlers):  # an earlier run in this process wrote to its stderr
        progress.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("harrier: %(message)s"))
    progress.addHandler(handler)
    progress.propagate = False


def _stopped(exc: KeyboardInterrupt, done: str | None = None) -> None:
    """Say what an interrupted run did, and exit 130 (Ctrl-C) or 143 (SIGTERM) at once, even
    if a thread is still inside a forward pass."""
    code = exit_code(exc)
    sys.stderr.write(f"harrier: interrupted ({'SIGTERM' if code == 143 else 'Ctrl-C'})")
    sys.stderr.write(
        f": {done}\nharrier: run the same command again to resume (finished documents, and the "
        "spans written of a new one, are skipped)\n"
        if done
        else "\n"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    legacy = sys.modules.get("harrier.sources.convert.legacy")  # loaded if LibreOffice ran
    if legacy is not None:  # its temporary files (copies of documents): no clean-up runs after
        legacy.remove_scratch()
    os._exit(code)


def _ingest(args: argparse.Namespace) -> int:
    from harrier.sources._documents import check_source

    options = IngestOptions.from_arguments(args)
    check_source(args.source)  # before the model loads
    if args.ray is not None:
        if _engine_spec(args) != "harrier":
            _fail("--ray embeds with harrier's engine on Ray actors, not with --engine/--embedder")
        if args.devices:
            _fail("--ray places one model per actor (--actors, --gpus-per-actor), not --devices")
        from harrier.ingestion.ray import ingest_on_ray

        try:
            report = ingest_on_ray(
                args.source,
                args.store,
                args.collection,
                _model(args),
                options,
                actors=args.actors,
                num_gpus_per_actor=args.gpus_per_actor,
                device=args.device,
                address=args.ray or None,
            )
        except ImportError as exc:  # Ray is not installed: the message names the extra
            _fail(str(exc))
        _print_report(report, args.json)
        return 0
    with _open_index(args, sparse=options.sparse, announce=True) as index:
        report = index.ingest(args.source, options)
    _print_report(report, args.json)
    return 0


def _search(args: argparse.Namespace) -> int:
    from harrier.framework_stores import check_query

    check_query(args.query)  # before a store opens or a model loads
    started = time.perf_counter()
    if args.mode == "sparse":  # BM25 needs no model: none is loaded
        hits, mode, loading = _sparse_hits(args), "sparse", 0.0
    else:
        with _open_index(args, existing=True) as index:
            mode = index.resolve_mode(args.mode)
            loading = time.perf_counter() - started
            hits = index.search(args.query, k=args.k, mode=mode)
    for rank, hit in enumerate(hits, start=1):
        if args.json:
            _out(json.dumps({**hit.to_dict(), "mode": mode}, ensure_ascii=False))
        else:
            preview = " ".join(hit.text.split())[:200]
            where = (  # a point written by another tool has no span fields
                f"{hit.doc_id} {_pages(hit.metadata)}[{hit.start}:{hit.end}]"
                if hit.doc_id
                else f"id {hit.id}"
            )
            _out(f"{rank}. [{hit.score:.3f}] {where}\n   {preview}")
    if not hits:
        sys.stderr.write(
            "harrier: no hits: no stored span holds a word of the query (sparse search matches "
            "words; --mode dense matches meaning)\n"
            if mode == "sparse"
            else "harrier: no hits: the collection holds no spans\n"
        )
    if loading > SLOW_LOADING and _engine_spec(args) == "harrier":
        sys.stderr.write(
            f"harrier: loading the model and the store took {loading:.1f} s; for repeated "
            f"searches start `harrier serve --model {_model(args)}` once and pass "
            "--embedder http://127.0.0.1:8080\n"
        )
    return 0


def _sparse_hits(args: argparse.Namespace) -> list[Any]:
    """The BM25 hits of ``args.query``, from the store alone."""
    from harrier.framework_stores import search

    store = open_store(args.store, args.collection)
    try:
        if store.collection_model() is None:
            raise store.missing_collection()
        return search(store, args.query, k=args.k, mode="sparse")
    finally:
        store.close()


def _pages(metadata: dict[str, Any]) -> str:
    """``p. 3 `` or ``pp. 3-4 `` for a span of a paged document, else nothing."""
    first, last = metadata.get("page_start"), metadata.get("page_end")
    if first is None:
        return ""
    return f"p. {first} " if last in (None, first) else f"pp. {first}-{last} "


def _model(args: argparse.Namespace) -> str:
    return str(args.model or DEFAULT_MODEL)


def _open_index(
    args: argparse.Namespace,
    *,
    sparse: bool | None = None,
    announce: bool = False,
    existing: bool = False,
) -> Any:
    """The store and the engine (loaded here, or a server with --embedder) as an ``Index``
    (imported here: the engine's modules load torch). The store opens first, so a wrong URL or
    path (and, with ``existing``, a collection that does not exist) fails before a model loads,
    which takes minutes for the 27b. ``announce``: a progress line before the model loads."""
    from harrier._index import Index

    quantization = getattr(args, "quantization", None)  # a Qdrant option, ingest only
    store = open_store(
        args.store,
        args.collection,
        sparse=sparse,
        **({"quantization": quantization} if quantization else {}),
    )
    try:
        if existing and store.collection_model() is None:
            raise store.missing_collection()
        embedder = _engine(args, announce)
    except BaseException:
        store.close()
        raise
    return Index(store, embedder, query_instruction=getattr(args, "query_instruction", None))


def _engine(args: argparse.Namespace, announce: bool) -> Any:
    """The engine ``--engine`` names (``--embedder URL``: ``remote:URL``; neither: the model
    loaded here)."""
    from transformers.utils import logging as transformers_logging

    from harrier._engine_registry import open_engine

    transformers_logging.disable_progress_bar()  # the command's own lines say it is loading
    spec = _engine_spec(args)
    if announce:
        shown = f"model {_model(args)}" if spec == "harrier" else f"the {spec} engine"
        logging.getLogger("harrier.progress").info("loading %s", shown)
    return open_engine(
        spec,
        model=args.model,
        device=args.device,
        devices=args.devices,
        max_tokens=getattr(args, "max_tokens", None),
    )


def _engine_spec(args: argparse.Namespace) -> str:
    if args.embedder:
        return f"remote:{args.embedder}"
    return str(args.engine or "harrier")


def open_store(spec: str, collection: str, **options: Any) -> Any:
    """The store ``spec`` names (:func:`harrier.stores.open_store`, imported only when a
    command needs a store)."""
    from harrier.stores import open_store as open_spec

    return open_spec(spec, collection, **options)


def _copy(args: argparse.Namespace) -> int:
    from harrier.ingestion._copy import copy_collection

    source = open_store(args.source, args.collection)
    try:
        target = open_store(args.target, args.collection, quantization=args.quantization)
        try:
            report = copy_collection(source, target, quiet=args.quiet)
        finally:
            target.close()
    finally:
        source.close()
    _out(json.dumps(report.to_dict()) if args.json else report.summary())
    return 0


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        _out(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _out(report.summary())
        for reason, group in report.skips.items():
            _out(f"  skipped {group['count']}: {reason} (e.g. {', '.join(group['examples'])})")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"harrier: error: {message}\n")
    raise SystemExit(code)


if __name__ == "__main__":
    raise SystemExit(main())
