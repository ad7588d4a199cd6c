"""The stages of :func:`harrier.ingestion.ray.ingest_on_ray`: what runs in Ray actors and tasks.

Rows hold one pickled document, then one pickled
:class:`harrier.ingestion._stages.DocumentWork`, each, so a document never splits across
blocks and one write task writes all its spans, then deletes its stale ones. Each stage calls
the single-process pipeline's own stage functions (``_stages``).
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
from ray.data import Datasink
from ray.data.block import BlockAccessor, BlockMetadata
from ray.data.datasource import Datasource, ReadTask
from ray.util.queue import Full, Queue

from harrier._embedder import Embedder
from harrier._loading import _token_limit
from harrier._model_files import model_folder
from harrier._settings import EmbedderSettings
from harrier._spans import Splitter
from harrier.ingestion import _stages as stages
from harrier.ingestion._report import IngestReport
from harrier.sources._documents import LargeFile, Skipped
from harrier.sources.convert import ConvertedFile, FileConverter
from harrier.stores.registry import open_store

COUNTS = ("unchanged", "spans_written", "spans_deleted", "spans_resumed", "tokens")
"""What the write tasks count (with the skips); the driver counts the rest."""


def encode(rows: Iterable[Any]) -> pa.Table:
    """A block of one binary column (pickles are exact: metadata types and text survive)."""
    data = [pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL) for row in rows]
    return pa.table({"work": pa.array(data, pa.large_binary())})


def decode(block: Any) -> list[Any]:
    table = BlockAccessor.for_block(block).to_arrow()
    if "work" not in table.column_names:  # the empty block of an empty source
        return []
    return [pickle.loads(row) for row in table.column("work").to_pylist()]


class BlockFeed:
    """The driver's document groups as blocks, made one at a time as Ray's read task takes
    them: a driver thread puts each block in a Ray queue of ``maxsize`` blocks (waiting while
    it is full), so neither the driver nor the object store ever holds the whole corpus.
    ``readers`` read tasks take blocks until each gets an end mark. Large files are set aside
    for the driver; ``error`` is what reading the source raised."""

    def __init__(
        self, groups: Iterable[list[Any] | LargeFile], readers: int, maxsize: int = 2
    ) -> None:
        self.readers = readers
        self.queue = Queue(maxsize=maxsize, actor_options={"num_cpus": 0})
        self.large: list[LargeFile] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(groups,), daemon=True, name="harrier-ray-feed"
        )
        self._thread.start()

    def datasource(self) -> Datasource:
        return _QueueSource(self.queue, self.readers)

    def close(self) -> list[LargeFile]:
        """Stop feeding (after a failed run), release the queue; the large files."""
        self._stop.set()
        self._thread.join()
        self.queue.shutdown()
        return self.large

    def _fill(self, groups: Iterable[list[Any] | LargeFile]) -> None:
        try:
            for group in groups:
                if isinstance(group, LargeFile):
                    self.large.append(group)
                elif not self._put(encode(_portable(doc) for doc in group)):
                    return
        except BaseException as exc:  # re-raised by the driver after the run
            self.error = exc
        for _ in range(self.readers):
            self._put(None)

    def _put(self, block: pa.Table | None) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(block, timeout=1.0)
                return True
            except Full:
                continue
        return False


def _portable(doc: Any) -> Any:
    """A document as the driver sends it: a file to convert travels with its bytes (one that
    cannot be read travels without, and its Prepare actor skips it with the reason)."""
    if not isinstance(doc, ConvertedFile):
        return doc
    try:
        return doc.with_data()
    except OSError:
        return doc


class _QueueSource(Datasource):
    """``readers`` read tasks, each yielding the queue's blocks until an end mark (None)."""

    def __init__(self, queue: Queue, readers: int) -> None:
        self.queue, self.readers = queue, readers

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        queue = self.queue

        def read() -> Iterator[pa.Table]:
            while (block := queue.get()) is not None:
                yield block

        metadata = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
        return [ReadTask(read, metadata) for _ in range(self.readers)]


def model_info(model: EmbedderSettings) -> tuple[Any, int, int]:
    """(tokenizer, dimension, token limit) of ``model``, as the engine loads them, no weights."""
    from transformers import AutoConfig, AutoTokenizer

    folder = model_folder(
        model.model, revision=model.revision, local_files_only=model.local_files_only
    )
    remote = model.trust_remote_code
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=remote)
    config = AutoConfig.from_pretrained(folder, trust_remote_code=remote)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return tokenizer, int(text.hidden_size), _token_limit(folder, tokenizer, text)


class Prepare:
    """Stage 1 (actors with a tokenizer, a converter and a store client): keep the changed
    documents of a block, convert and split them, and drop their text. Ray Data deletes the
    actor's instance when it releases the actor, which closes the converter and the store."""

    def __init__(
        self,
        store: str,
        collection: str,
        model: EmbedderSettings,
        max_tokens: int,
        overlap: int,
        settings: str,
        convert_timeout: float,
    ) -> None:
        self.store = open_store(store, collection)
        self.converter = FileConverter(convert_timeout)
        self.splitter = Splitter(
            model_info(model)[0], max_tokens=max_tokens, overlap_tokens=overlap
        )
        self.settings = settings

    def __call__(self, block: pa.Table) -> pa.Table:
        docs = decode(block)
        stored = self.store.stored_documents([d.id for d in docs])
        return encode(stages.prepare(docs, stored, self.settings, self.splitter, self.converter))

    def __del__(self) -> None:
        self.converter.close()
        self.store.close()


class Embed:
    """Stage 2 (``actors`` actors, one Embedder each): embed every span of a block at once."""

    def __init__(self, settings: EmbedderSettings) -> None:
        self.embedder = Embedder.from_settings(settings)

    def __call__(self, block: pa.Table) -> pa.Table:
        works = decode(block)
        stages.embed(works, self.embedder)
        return encode(works)


class StoreSink(Datasink[dict[str, Any]]):
    """Stage 3: write each block through the store's ``VectorStore`` API, as ``ingest`` does
    (bounded upserts, then ``delete_stale`` per changed document). Each write task opens the
    store from its spec; after the job, ``counts`` holds the totals."""

    def __init__(self, store: str, collection: str, model: str) -> None:
        self.store, self.collection, self.model = store, collection, model
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.skips: list[Skipped] = []

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        report = IngestReport()
        skips: list[tuple[str, str]] = []
        store = open_store(self.store, self.collection)
        try:
            for block in blocks:
                works = decode(block)
                skips.extend((s.id, s.reason) for s in stages.skipped(works))
                stages.write(works, store, self.model, report)
        finally:
            store.close()
        return {"skips": skips, **{key: getattr(report, key) for key in COUNTS}}

    def on_write_complete(self, write_result: Any) -> None:
        for counts in write_result.write_returns:
            for key in COUNTS:
                self.counts[key] += counts[key]
            self.skips.extend(Skipped(*skip) for skip in counts["skips"])
