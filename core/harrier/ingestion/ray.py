"""Ingestion on Ray Data: the single-process pipeline's stages, spread over a cluster.

One row per document from start to end, so one write task writes all of a document's spans and
then deletes its stale ones, exactly as :func:`harrier.ingest` does::

    driver     the run's source -> blocks of <= batch_size documents or group_chars of text,
               made one at a time as the read task asks for them (a bounded queue)
    Prepare    actors with a tokenizer and a store client: what is stored, hash, split
    Embed      a pool of ``actors`` actors, one Embedder each (``num_gpus_per_actor``)
    StoreSink  write tasks: upsert in bounded batches, then delete_stale per document

Span ids, document hashes and write order are the single-process pipeline's own functions, so
a job can move between the two without duplicates. Files over ``large_file_bytes`` are streamed
by the same stages on the driver after the Ray job (it loads the model only then).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harrier._embedder import Embedder
from harrier._errors import ConfigurationError, HarrierError
from harrier._identity import model_identity
from harrier._model_files import model_folder
from harrier._settings import EmbedderSettings
from harrier._spans import Splitter
from harrier.ingestion import _stages
from harrier.ingestion._options import CPU_SPAN_TOKENS, IngestOptions
from harrier.ingestion._progress import use_bar
from harrier.ingestion._report import IngestReport
from harrier.ingestion._run import IngestRun
from harrier.ingestion._signals import RunInterrupted
from harrier.sources._documents import LargeFile, check_source
from harrier.stores import open_store
from harrier.stores.base import VectorStore

logger = logging.getLogger("harrier")

_LIGHT_CPUS = 0.25  # what a prepare actor or a write task reserves (tokenizer, store I/O)


def ingest_on_ray(
    source: str | Path | Iterable[Any],
    store: str,
    collection: str,
    model: str | Path | None = None,
    options: IngestOptions | None = None,
    *,
    settings: EmbedderSettings | None = None,
    actors: int = 2,
    num_gpus_per_actor: float = 0.0,
    cpus_per_actor: float = 1.0,
    batch_size: int = 64,
    device: str | None = None,
    address: str | None = None,
    **changes: Any,
) -> IngestReport:
    """Split, embed and write ``source`` into ``collection`` of the store server ``store``.

    ``options`` (an :class:`~harrier.IngestOptions`, with ``changes`` to its fields as
    keywords) as for :func:`harrier.ingest`. ``store`` is a spec as the command line takes it
    (``milvus:http://host:19530``, ``qdrant:http://host:6333``); credentials come from each
    worker's environment. The engine is ``settings`` (an :class:`~harrier.EmbedderSettings`:
    dtype, revision, batch budget... reach every actor), or ``model`` with the defaults; each
    of ``actors`` embedding actors builds it with ``num_gpus_per_actor`` GPUs and
    ``cpus_per_actor`` CPUs, on ``device`` (which overrides the settings'; default: ``cuda``
    when GPUs are asked for, else ``cpu``). Blocks of ``batch_size`` documents (at most
    ``group_chars`` characters) are what each stage takes at a time. Ray is started locally,
    or joined at ``address`` (``auto``, ``ray://host:10001``), unless it is already
    initialised. The store ends exactly as :func:`harrier.ingest` with the same options
    leaves it (the Prepare actors convert the changed files, which travel with their bytes).
    Skips found in the Prepare actors reach the skip log once the job ends; progress counts
    the documents as the driver hands them to Ray.
    """
    options = IngestOptions.of(options, **changes)
    check_source(source)
    try:
        import ray

        from harrier.ingestion._ray_stages import model_info
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
    settings = actor_settings(model, settings, device, num_gpus_per_actor)
    tokenizer, dimension, model_limit = model_info(settings)
    default = min(model_limit, CPU_SPAN_TOKENS) if settings.device == "cpu" else model_limit
    limit = (settings.max_tokens or default) if options.max_tokens is None else options.max_tokens
    if not 0 < limit <= model_limit:
        raise ConfigurationError(
            f"max_tokens={limit} must be between 1 and the model's limit {model_limit}"
        )
    overlap = options.overlap_tokens
    Splitter(tokenizer, max_tokens=limit, overlap_tokens=overlap)  # checks the settings
    identity = model_identity(
        settings.model,
        model_folder(
            settings.model, revision=settings.revision, local_files_only=settings.local_files_only
        ),
    )
    hash_settings = _stages.ingest_settings(identity, limit, overlap)
    if not ray.is_initialized():
        ray.init(address=address)
    context = ray.data.DataContext.get_current()
    progress_was = context.enable_progress_bars
    context.enable_progress_bars = use_bar(options.show_progress) and not options.quiet
    driver_store = open_store(store, collection, sparse=options.sparse)
    run = IngestRun(source, replace(options, show_progress=False), convert=False)
    try:
        engine = f"{actors} actors of model {settings.model} on {settings.device}"
        run.plan(engine, store, limit, hint="more actors or GPUs (--actors, --gpus-per-actor)")
        driver_store.ensure_collection(identity, dimension)
        driver_store.begin_bulk_load()
        try:
            large = _run_pipeline(
                ray,
                run,
                store,
                collection,
                settings,
                limit,
                hash_settings,
                actors,
                cpus_per_actor,
                num_gpus_per_actor,
                batch_size,
            )
            if large:
                _ingest_large(large, driver_store, settings, limit, overlap, run.report)
        finally:
            driver_store.end_bulk_load()
        run.prune(driver_store)
    except KeyboardInterrupt as exc:
        run.close(interrupted=True)
        raise RunInterrupted(run.report, exc) from None
    finally:
        context.enable_progress_bars = progress_was
        driver_store.close()
        run.close()
    logger.info("ingestion on Ray done: %s", run.report.summary())
    return run.report


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
    run: IngestRun,
    store: str,
    collection: str,
    engine: EmbedderSettings,
    limit: int,
    settings: str,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    batch_size: int,
) -> list[LargeFile]:
    """Stream the run's groups through Prepare, Embed and StoreSink; the large files set
    aside."""
    from harrier.ingestion import _ray_stages as stages

    options = run.options
    groups = run.groups(size=batch_size, count_on_read=True)
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
                    overlap=options.overlap_tokens,
                    settings=settings,
                    convert_timeout=options.convert_timeout,
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
        setattr(run.report, key, getattr(run.report, key) + sink.counts[key])
    _stages.record_skips(run.report, sink.skips)
    return large


def _ingest_large(
    files: list[LargeFile],
    store: VectorStore,
    settings: EmbedderSettings,
    limit: int,
    overlap: int,
    report: IngestReport,
) -> None:
    """Files too large for one row, streamed in pieces on the driver by the same stages."""
    logger.info("streaming %d large files on the driver", len(files))
    embedder = Embedder.from_settings(settings)
    splitter = Splitter(embedder, max_tokens=limit, overlap_tokens=overlap)
    hash_settings = _stages.ingest_settings(embedder.identity, limit, overlap)
    for file in files:
        pieces = _stages.prepare_large(
            file,
            lambda doc_id: store.stored_documents([doc_id]).get(doc_id),
            hash_settings,
            splitter,
        )
        for works in pieces:
            _stages.record_skips(report, _stages.skipped(works))
            _stages.embed(works, embedder)
            _stages.write(works, store, embedder.model_name, report)


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
