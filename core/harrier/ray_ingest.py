"""Ingestion on Ray Data: the single-process pipeline's stages, spread over a cluster.

One row per document from start to end, so one write task writes all of a document's spans and
then deletes its stale ones, exactly as :func:`harrier.ingest` does::

    driver     iter_source -> blocks of <= batch_size documents or 4 MiB of text (object store)
    Prepare    actors with a tokenizer and a store client: what is stored, hash, split
    Embed      a pool of ``actors`` actors, one Embedder each (``num_gpus_per_actor``)
    StoreSink  write tasks: upsert in bounded batches, then delete_stale per document

Span ids, document hashes and write order are the single-process pipeline's own functions, so
a job can move between the two without duplicates. Files over ``large_file_bytes`` are streamed
by the single-process pipeline on the driver after the Ray job (it loads the model only then).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harrier import _errors
from harrier._documents import LARGE_FILE_BYTES, LargeFile, iter_source
from harrier._embedder import Embedder
from harrier._errors import ConfigurationError, HarrierError
from harrier._folders import FolderFilter
from harrier._identity import model_identity
from harrier._ingest import IngestReport, _groups, _Job, prune_missing
from harrier._model_files import resolve_folder
from harrier._records import canonical_json
from harrier._spans import split_spans
from harrier._store import VectorStore
from harrier._store_spec import open_store
from harrier.convert import CONVERT_TIMEOUT, FileConverter

logger = logging.getLogger("harrier")

_BLOCK_CHARS = 4 * 2**20  # the single-process pipeline's group bound
_LIGHT_CPUS = 0.25  # what a prepare actor or a write task reserves (tokenizer, store I/O)
_REMOTE_ERROR = re.compile(r"^harrier\._errors\.(\w+): (.*)$", re.MULTILINE)


def ingest_on_ray(
    source: str | Path | Iterable[Any],
    store: str,
    collection: str,
    model: str | Path,
    *,
    max_tokens: int | None = None,
    overlap_tokens: int = 0,
    prune: bool = False,
    actors: int = 2,
    num_gpus_per_actor: float = 0.0,
    cpus_per_actor: float = 1.0,
    batch_size: int = 64,
    device: str | None = None,
    address: str | None = None,
    large_file_bytes: int = LARGE_FILE_BYTES,
    show_progress: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    follow_symlinks: bool = False,
    convert_timeout: float = CONVERT_TIMEOUT,
    sparse: bool = True,
) -> IngestReport:
    """Split, embed and write ``source`` into ``collection`` of the store server ``store``.

    ``store`` is a spec as the command line takes it (``milvus:http://host:19530``,
    ``qdrant:http://host:6333``); credentials come from each worker's environment. ``model`` is
    loaded by each of ``actors`` embedding actors with ``num_gpus_per_actor`` GPUs and
    ``cpus_per_actor`` CPUs, on ``device`` (default: ``cuda`` when GPUs are asked for, else
    ``cpu``). Blocks of ``batch_size`` documents (at most 4 MiB of text) are what each stage
    takes at a time. Ray is started locally, or joined at ``address`` (``auto``,
    ``ray://host:10001``), unless it is already initialised. The store ends exactly as
    :func:`harrier.ingest` with the same arguments leaves it (folder filters and conversion
    as there: the Prepare actors convert the changed files, which travel with their bytes).
    ``sparse=False``: a new collection gets no BM25 vectors.
    """
    try:
        import ray

        from harrier import _ray_stages as stages
    except ImportError as exc:
        raise ImportError(
            f"ingest_on_ray needs Ray Data: pip install 'harrier-suite[ray]' ({exc})") from exc
    if "://" not in store.partition(":")[2]:
        raise ConfigurationError(
            f"store {store!r} is embedded: Ray writes from many processes, so use a store "
            "server (milvus:http://host:19530, qdrant:http://host:6333)")
    if actors < 1 or batch_size < 1 or num_gpus_per_actor < 0 or cpus_per_actor <= 0:
        raise ConfigurationError("actors and batch_size must be at least 1, "
                                 "num_gpus_per_actor at least 0 and cpus_per_actor above 0")
    started = time.perf_counter()
    name = str(model)
    tokenizer, dimension, model_limit = stages.model_info(name)
    limit = max_tokens or model_limit
    if not 0 < limit <= model_limit:
        raise ConfigurationError(f"max_tokens={limit} must be between 1 and the model's limit "
                                 f"{model_limit}")
    split_spans("check", tokenizer, max_tokens=limit, overlap_tokens=overlap_tokens)
    identity = model_identity(name, resolve_folder(name, revision=None, local_files_only=False))
    settings = canonical_json([identity.fingerprint, limit, overlap_tokens])
    report = IngestReport()
    seen: set[str] = set()
    if not ray.is_initialized():
        ray.init(address=address)
    context = ray.data.DataContext.get_current()
    progress_was, context.enable_progress_bars = context.enable_progress_bars, show_progress
    driver_store = open_store(store, collection, sparse=sparse)
    try:
        driver_store.ensure_collection(identity, dimension)
        driver_store.begin_bulk_load()
        try:
            blocks: list[Any] = []  # object refs of Arrow blocks
            large: list[LargeFile] = []
            items = iter_source(source, large_file_bytes=large_file_bytes,
                                folder=FolderFilter(include, exclude, follow_symlinks))
            for group in _groups(items, seen, report, batch_size, _BLOCK_CHARS):
                if isinstance(group, LargeFile):
                    large.append(group)
                else:
                    blocks.append(ray.put(stages.encode(stages.work_of(d) for d in group)))
            if blocks:
                logger.info("ingesting %d documents in %d blocks on Ray with %d actors",
                            report.documents - len(large), len(blocks), actors)
                sink = stages.StoreSink(store, collection, name)
                try:
                    (ray.data.from_arrow_refs(blocks)
                     .map_batches(stages.Prepare, batch_size=None, batch_format="pyarrow",
                                  compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
                                  num_cpus=_LIGHT_CPUS, fn_constructor_kwargs=dict(
                                      store=store, collection=collection, model=name,
                                      max_tokens=limit, overlap=overlap_tokens,
                                      settings=settings, convert_timeout=convert_timeout))
                     .map_batches(stages.Embed, batch_size=None, batch_format="pyarrow",
                                  compute=ray.data.ActorPoolStrategy(size=actors),
                                  num_cpus=cpus_per_actor, num_gpus=num_gpus_per_actor or None,
                                  fn_constructor_kwargs=dict(model=name, device=device or (
                                      "cuda" if num_gpus_per_actor > 0 else "cpu")))
                     .write_datasink(sink, ray_remote_args={"num_cpus": _LIGHT_CPUS},
                                     concurrency=actors))
                except ray.exceptions.RayError as exc:
                    error = _remote_harrier_error(exc)
                    if error is None:
                        raise
                    raise error from exc
                for key in stages.COUNTS:
                    setattr(report, key, getattr(report, key) + sink.counts[key])
                for skipped in sink.skips:
                    report.documents -= 1
                    report.add_skip(skipped)
            if large:
                _ingest_large(large, driver_store, name, device, limit, overlap_tokens, settings,
                              report)
        finally:
            driver_store.end_bulk_load()
        if prune:
            report.documents_pruned = prune_missing(driver_store, seen)
    finally:
        context.enable_progress_bars = progress_was
        driver_store.close()
    report.seconds = time.perf_counter() - started
    logger.info("ingestion on Ray done: %s", report.summary())
    return report


def _ingest_large(
    files: list[LargeFile], store: VectorStore, model: str, device: str | None, limit: int,
    overlap: int, settings: str, report: IngestReport,
) -> None:
    """Files too large for one row, streamed in pieces on the driver as ``ingest`` does."""
    logger.info("streaming %d large files on the driver", len(files))
    embedder = Embedder.from_pretrained(model, device=device)
    job = _Job(store, embedder, limit, overlap, settings, report, FileConverter())
    for prepared in job.prepare_all(files):
        job.write(job.embed(prepared))


def _remote_harrier_error(exc: BaseException) -> HarrierError | None:
    """The harrier error a stage raised, rebuilt from Ray's wrapper (which keeps only its text),
    so callers and the command line see the typed, actionable error."""
    match = _REMOTE_ERROR.search(str(exc))
    kind = getattr(_errors, match.group(1), None) if match else None
    if match is None or not (isinstance(kind, type) and issubclass(kind, HarrierError)):
        return None
    error = kind.__new__(kind)
    Exception.__init__(error, match.group(2))
    return error
