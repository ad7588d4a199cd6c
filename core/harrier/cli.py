"""The ``harrier`` command: ingest a folder or JSON Lines file into a store, and search it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from harrier._copy import copy_collection
from harrier._embedder import Embedder
from harrier._errors import HarrierError, ModelNotFoundError
from harrier._index import DEFAULT_K, Index
from harrier._remote import RemoteEmbedder
from harrier._report import IngestReport
from harrier._serve_command import add_serve_parser, run_serve
from harrier._settings import DEFAULT_MODEL
from harrier._store_spec import open_store
from harrier.convert import CONVERT_TIMEOUT

EPILOG = """examples:
  harrier ingest ./docs --collection docs
  harrier search "how do I reset my password?" --collection docs -k 3
  harrier search "error E1234" --collection docs --mode sparse
  harrier ingest ./docs --collection docs --store qdrant:http://localhost:6333 --prune
  harrier ingest corpus.jsonl --collection docs --store milvus:./milvus.db --json
  harrier ingest ./docs --collection docs --store milvus:http://localhost:19530 --ray auto
  harrier copy --from qdrant --to qdrant:http://localhost:6333 --collection docs
  harrier serve --model microsoft/harrier-oss-v1-270m --port 8080

stores: qdrant (embedded Qdrant Edge in ./.harrier/qdrant), qdrant:PATH, qdrant:URL (API key
from QDRANT_API_KEY); qdrant-local[:PATH] (qdrant-client's local mode, as earlier versions
wrote); milvus (Milvus Lite in ./.harrier/milvus.db), milvus:PATH, milvus:URI (token from
MILVUS_TOKEN).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harrier",
        description="Embed documents with Harrier-OSS-v1 into a vector store, and search it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser(
        "ingest",
        help="split, embed and write documents (re-runs skip unchanged ones)",
        description="Split documents into spans, embed them and write them idempotently. "
        "SOURCE is a folder (text, Markdown, code; PDF, DOCX, PPTX, XLSX, HTML and EPUB with "
        "the documents extra; .gitignore files are honoured), a file, or a "
        'JSON Lines file of {"id", "text", "metadata"} objects.',
    )
    ingest.add_argument("source", metavar="SOURCE", help="a folder or a .jsonl file")
    ingest.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="span length limit in tokens (default: the model's, 32768)",
    )
    ingest.add_argument(
        "--overlap-tokens",
        type=int,
        metavar="N",
        help="tokens shared by consecutive spans (default 0)",
    )
    ingest.add_argument("--overlap", type=int, help=argparse.SUPPRESS)  # deprecated
    ingest.add_argument(
        "--prune", action="store_true", help="delete documents that are no longer in SOURCE"
    )
    sparse = ingest.add_mutually_exclusive_group()
    sparse.add_argument(
        "--sparse",
        dest="sparse",
        action="store_const",
        const=True,
        help="a new collection must get BM25 vectors: a store without them is refused "
        "(default: BM25 where the store has it, with a warning where it does not)",
    )
    sparse.add_argument(
        "--no-sparse",
        dest="sparse",
        action="store_const",
        const=False,
        help="a new collection gets dense vectors only, no BM25 vectors "
        "(hybrid and sparse search then refuse it)",
    )
    ingest.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="read only files matching this .gitignore-style pattern (repeatable), e.g. '*.pdf'",
    )
    ingest.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files and folders matching this pattern (repeatable)",
    )
    ingest.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="read symbolic links (never in a loop); default: skip them",
    )
    ingest.add_argument(
        "--convert-timeout",
        type=float,
        default=CONVERT_TIMEOUT,
        metavar="S",
        help=f"seconds one document may take to convert (default {CONVERT_TIMEOUT:g})",
    )
    ingest.add_argument(
        "--skip-log",
        metavar="FILE",
        help="write every skipped file and its reason to FILE (JSON lines)",
    )
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

    copy = commands.add_parser(
        "copy",
        help="copy a collection between two stores (resumable)",
        description="Copy every span (ids, vectors, texts, metadata) of a collection from one "
        "store to another, e.g. from the embedded store to a server. Re-running copies only "
        "what is missing.",
        allow_abbrev=False,
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
    for sub in (ingest, copy):
        sub.add_argument(
            "--quantization",
            choices=["scalar", "binary"],
            help="Qdrant only, when the collection is created: int8 or 1-bit "
            "vectors in memory, rescored on the originals (default: none)",
        )
    copy.add_argument("--json", action="store_true", help="machine-readable output")
    copy.add_argument("-v", "--verbose", action="store_true", help="log progress details")

    search = commands.add_parser(
        "search",
        help="find the spans nearest to a query",
        description="Embed QUERY with the query instruction and print the nearest spans.",
    )
    search.add_argument("query", metavar="QUERY")
    search.add_argument(
        "-k", type=int, default=DEFAULT_K, help=f"number of results (default {DEFAULT_K})"
    )
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

    add_serve_parser(commands)
    for sub in commands.choices.values():  # every subcommand, also those added elsewhere
        sub.allow_abbrev = False
    for sub in (ingest, search):
        sub.add_argument("--collection", required=True, help="collection name")
        sub.add_argument(
            "--store",
            default="qdrant",
            metavar="KIND[:PATH_OR_URL]",
            help="qdrant or milvus, embedded by default (see below)",
        )
        sub.add_argument(
            "--model",
            default=DEFAULT_MODEL,
            metavar="NAME_OR_PATH",
            help=f"Hub id or local folder (default {DEFAULT_MODEL})",
        )
        sub.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda if present)")
        sub.add_argument(
            "--embedder",
            metavar="URL",
            help="embed through a `harrier serve` server instead of loading the "
            "model here (API key from HARRIER_API_KEY)",
        )
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return parser


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
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        return _run(args)
    except ModelNotFoundError as exc:
        _fail(f"{exc}\nhint: pass --model PATH with a folder holding the model")
    except HarrierError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail(
            "interrupted; run the same command again to resume (finished documents are skipped)",
            code=130,
        )
    return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "copy":
        return _copy(args)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "ingest" and args.ray is not None:
        if args.embedder:
            _fail("--ray embeds on Ray actors; it cannot be combined with --embedder")
        from harrier.ray_ingest import ingest_on_ray

        try:
            report = ingest_on_ray(
                args.source,
                args.store,
                args.collection,
                args.model,
                max_tokens=args.max_tokens,
                overlap_tokens=args.overlap_tokens or 0,
                prune=args.prune,
                actors=args.actors,
                num_gpus_per_actor=args.gpus_per_actor,
                device=args.device,
                address=args.ray or None,
                show_progress=not args.json and sys.stderr.isatty(),
                include=args.include,
                exclude=args.exclude,
                follow_symlinks=args.follow_symlinks,
                convert_timeout=args.convert_timeout,
                sparse=args.sparse,
                skip_log=args.skip_log,
            )
        except ImportError as exc:  # Ray is not installed: the message names the extra
            _fail(str(exc))
        _print_report(report, args.json)
        return 0
    embedder: Embedder | RemoteEmbedder
    if args.embedder:
        embedder = RemoteEmbedder(args.embedder, api_key=os.environ.get("HARRIER_API_KEY"))
    else:
        embedder = Embedder.from_pretrained(
            args.model, device=args.device, max_tokens=getattr(args, "max_tokens", None)
        )
    quantization = getattr(args, "quantization", None)  # a Qdrant option, ingest only
    store = open_store(
        args.store,
        args.collection,
        sparse=getattr(args, "sparse", None),
        **({"quantization": quantization} if quantization else {}),
    )
    with Index(
        store, embedder, query_instruction=getattr(args, "query_instruction", None)
    ) as index:
        if args.command == "ingest":
            report = index.ingest(
                args.source,
                overlap_tokens=args.overlap_tokens or 0,
                prune=args.prune,
                max_tokens=args.max_tokens if args.embedder else None,
                show_progress=not args.json and sys.stderr.isatty(),
                include=args.include,
                exclude=args.exclude,
                follow_symlinks=args.follow_symlinks,
                convert_timeout=args.convert_timeout,
                skip_log=args.skip_log,
            )
            _print_report(report, args.json)
            return 0
        mode = index.resolve_mode(args.mode)
        hits = index.search(args.query, k=args.k, mode=mode)
        for rank, hit in enumerate(hits, start=1):
            if args.json:
                _out(json.dumps({**hit.to_dict(), "mode": mode}, ensure_ascii=False))
            else:
                preview = " ".join(hit.text.split())[:200]
                _out(
                    f"{rank}. [{hit.score:.3f}] {hit.doc_id} [{hit.start}:{hit.end}]\n   {preview}"
                )
        return 0


def _copy(args: argparse.Namespace) -> int:
    source = open_store(args.source, args.collection)
    try:
        target = open_store(args.target, args.collection, quantization=args.quantization)
        try:
            report = copy_collection(
                source, target, show_progress=not args.json and sys.stderr.isatty()
            )
        finally:
            target.close()
    finally:
        source.close()
    _out(json.dumps(report.to_dict()) if args.json else report.summary())
    return 0


def _print_report(report: IngestReport, as_json: bool) -> None:
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
