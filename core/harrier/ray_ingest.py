"""Ingestion on Ray Data: the single-process pipeline's stages, spread over a cluster.

One row per document from start to end, so one write task writes all of a document's spans and
then deletes its stale ones, exactly as :func:`harrier.ingest` does::

    driver     iter_source -> blocks of <= batch_size documents or 4 MiB of text, made one at a
               time as the read task asks for them (a bounded queue): memory stays bounded
    Prepare    actors with a tokenizer and a store client: what is stored, hash, split
    Embed      a pool of ``actors`` actors, one Embedder each (``num_gpus_per_actor``)
    StoreSink  write tasks: upsert in bounded batches, then delete_stale per document

Span ids, document hashes and write order are the single-process pipeline's own functions, so
a job can move between the two without duplicates. Files over ``large_file_bytes`` are streamed
by the single-process pipeline on the driver after the Ray job (it loads the model only then).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harrier import _stages
from harrier._documents import LARGE_FILE_BYTES, LargeFile, iter_source
from harrier._embedder import Embedder
from harrier._errors import ConfigurationError, HarrierError
from harrier._folders import FolderFilter
from harrier._identity import model_identity
from harrier._ingest import Pipeline
from harrier._model_files import resolve_folder
from harrier._report import IngestReport
from harrier._settings import EmbedderSettings
from harrier._spans import Splitter
from harrier._store import VectorStore
from harrier._store_spec import open_store
from harrier.convert import CONVERT_TIMEOUT

logger = logging.getLogger("harrier")

_BLOCK_CHARS = 4 * 2**20  # the single-process pipeline's group bound
_LIGHT_CPUS = 0.25  # what a prepare actor or a write task reserves (tokenizer, store I/O)


def ingest_on_ray(
    source: str | Path | Iterable[Any],
    store: str,
    collection: str,
    model: str | Path | None = None,
    *,
    settings: EmbedderSettings | None = None,
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
    sparse: bool | None = None,
    skip_log: str | Path | None = None,
) -> IngestReport:
    """Split, embed and write ``source`` into ``collection`` of the store server ``store``.

    ``store`` is a spec as the command line takes it (``milvus:http://host:19530``,
    ``qdrant:http://host:6333``); credentials come from each worker's environment. The engine
    is ``settings`` (an :class:`~harrier.EmbedderSettings`: dtype, revision, batch budget...
    reach every actor), or ``model`` with the defaults; each of ``actors`` embedding actors
    builds it with ``num_gpus_per_actor`` GPUs and ``cpus_per_actor`` CPUs, on ``device``
    (which overrides the settings'; default: ``cuda`` when GPUs are asked for, else ``cpu``).
    Blocks of ``batch_size`` documents (at most 4 MiB of text) are what each stage takes at a
    time. Ray is started locally, or joined at ``address`` (``auto``,
    ``ray://host:10001``), unless it is already initialised. The store ends exactly as
    :func:`harrier.ingest` with the same arguments leaves it (folder filters and conversion
    as there: the Prepare actors convert the changed files, which travel with their bytes).
    ``sparse``: a new collection gets BM25 vectors where the store has them (None), must get
    them (True) or gets none (False). ``skip_log`` names a file that
    gets every skip as a JSON line, as there (those found in the Prepare actors once the job ends).
    """
    try:
        import ray

        from harrier._ray_stages import model_info
    except ImportError as exc:
        raise ImportError(
            f"ingest_on_ray needs Ray Data: pip install 'harrier-suite[ray]' ({exc})"
        ) from exc
    if "://" not in store.partition(":")[2]:
        raise ConfigurationError(
            f"store {store!r} is embedded: Ray writes from many processes, so use a store "
            "server (milvus:http://host:19530, qdrant:http://host:6333)"
        )
    if actors < 1 or batch_size < 1 or num_gpus_per_actor < 0 or cpus_per_actor <= 0:
        raise ConfigurationError(
            "actors and batch_size must be at least 1, "
            "num_gpus_per_actor at least 0 and cpus_per_actor above 0"
        )
    started = time.perf_counter()
    settings = actor_settings(model, settings, device, num_gpus_per_actor)
    tokenizer, dimension, model_limit = model_info(settings)
    limit = (settings.max_tokens or model_limit) if max_tokens is None else max_tokens
    if not 0 < limit <= model_limit:
        raise ConfigurationError(
            f"max_tokens={limit} must be between 1 and the model's limit {model_limit}"
        )
    Splitter(tokenizer, max_tokens=limit, overlap_tokens=overlap_tokens)  # checks the settings
    identity = model_identity(
        settings.model,
        resolve_folder(
            settings.model, revision=settings.revision, local_files_only=settings.local_files_only
        ),
    )
    hash_settings = _stages.ingest_settings(identity, limit, overlap_tokens)
    seen: set[str] = set()
    if not ray.is_initialized():
        ray.init(address=address)
    context = ray.data.DataContext.get_current()
    progress_was, context.enable_progress_bars = context.enable_progress_bars, show_progress
    report = IngestReport()
    driver_store = open_store(store, collection, sparse=sparse)
    try:
        if skip_log is not None:
            report.skip_log = open(skip_log, "w", encoding="utf-8")  # noqa: SIM115
        driver_store.ensure_collection(identity, dimension)
        driver_store.begin_bulk_load()
        try:
            items = iter_source(
                source,
                large_file_bytes=large_file_bytes,
                folder=FolderFilter(include, exclude, follow_symlinks),
            )
            groups = _stages.document_groups(items, seen, report, batch_size, _BLOCK_CHARS)
            large = _run_pipeline(
                ray,
                groups,
                store,
                collection,
                settings,
                limit,
                overlap_tokens,
                hash_settings,
                actors,
                cpus_per_actor,
                num_gpus_per_actor,
                convert_timeout,
                report,
            )
            if large:
                _ingest_large(large, driver_store, settings, limit, overlap_tokens, report)
        finally:
            driver_store.end_bulk_load()
        if prune:
            report.documents_pruned = _stages.prune(driver_store, seen)
    finally:
        context.enable_progress_bars = progress_was
        driver_store.close()
        if report.skip_log is not None:
            report.skip_log.close()
            report.skip_log = None
    report.seconds = time.perf_counter() - started
    logger.info("ingestion on Ray done: %s", report.summary())
    return report


def actor_settings(
    model: str | Path | None,
    settings: EmbedderSettings | None,
    device: str | None,
    gpus_per_actor: float,
) -> EmbedderSettings:
    """The engine settings every Embed actor builds: ``settings`` or ``model``'s defaults, with
    ``device`` (else the settings' device, else ``cuda`` when GPUs are asked for, else ``cpu``)."""
    if settings is None:
        if model is None:
            raise ConfigurationError("ingest_on_ray needs model= or settings=")
        settings = EmbedderSettings(model=str(model))
    elif model is not None and str(model) != settings.model:
        raise ConfigurationError(
            f"model={str(model)!r} differs from settings.model={settings.model!r}: pass one of them"
        )
    device = device or settings.device or ("cuda" if gpus_per_actor > 0 else "cpu")
    return replace(settings, device=device)


def _run_pipeline(
    ray: Any,
    groups: Iterator[list[Any] | LargeFile],
    store: str,
    collection: str,
    engine: EmbedderSettings,
    limit: int,
    overlap: int,
    settings: str,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    convert_timeout: float,
    report: IngestReport,
) -> list[LargeFile]:
    """Stream the groups through Prepare, Embed and StoreSink; the large files set aside."""
    from harrier import _ray_stages as stages

    feed = stages.BlockFeed(groups, readers=actors)
    sink = stages.StoreSink(store, collection, engine.model)
    logger.info("ingesting on Ray with %d embedding actors", actors)
    try:
        (
            ray.data.read_datasource(
                feed.datasource(), override_num_blocks=actors, num_cpus=_LIGHT_CPUS
            )
            .map_batches(
                stages.Prepare,
                batch_size=None,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
                num_cpus=_LIGHT_CPUS,
                fn_constructor_kwargs=dict(
                    store=store,
                    collection=collection,
                    model=engine,
                    max_tokens=limit,
                    overlap=overlap,
                    settings=settings,
                    convert_timeout=convert_timeout,
                ),
            )
            .map_batches(
                stages.Embed,
                batch_size=None,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=cpus_per_actor,
                num_gpus=gpus_per_actor or None,
                fn_constructor_kwargs=dict(settings=engine),
            )
            .write_datasink(sink, ray_remote_args={"num_cpus": _LIGHT_CPUS}, concurrency=actors)
        )
    except ray.exceptions.RayError as exc:
        error = original_error(exc)
        if error is None:
            raise
        raise error from None
    finally:
        large = feed.close()
    if feed.error is not None:
        raise feed.error
    for key in stages.COUNTS:
        setattr(report, key, getattr(report, key) + sink.counts[key])
    _stages.record_skips(report, sink.skips)
    return large


def _ingest_large(
    files: list[LargeFile],
    store: VectorStore,
    settings: EmbedderSettings,
    limit: int,
    overlap: int,
    report: IngestReport,
) -> None:
    """Files too large for one row, streamed in pieces on the driver as ``ingest`` does."""
    logger.info("streaming %d large files on the driver", len(files))
    embedder = Embedder.from_settings(settings)
    job = Pipeline(store, embedder, limit, overlap, report)
    for prepared in job.prepare_all(files):
        job.write(job.embed(prepared))


def original_error(exc: BaseException) -> HarrierError | None:
    """The harrier error a stage raised, found along Ray's wrappers (``RayTaskError.cause``,
    then ``__cause__``), so callers and the command line see the typed error with its
    attributes."""
    from ray.exceptions import RayError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, HarrierError) and not isinstance(current, RayError):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return None
