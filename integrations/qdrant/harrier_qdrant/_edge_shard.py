"""Opening Qdrant Edge shards on disk: their configuration, their record file, their errors.

A harrier Edge store is a folder with one sub-folder per collection::

    STORE/NAME/collection.json   model, dimension and options (written atomically)
    STORE/NAME/shard/            the Qdrant Edge shard (segments + write-ahead log)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harrier.stores import (
    SPARSE_VECTOR_NAME,
    ConfigurationError,
    ModelIdentity,
    StoreDamagedError,
    StoreError,
    StoreUnavailableError,
    StoreWriteError,
)
from harrier.stores.paths import disk_problem, prepare_store_folder
from harrier_qdrant._edge_space import MIN_FREE, ensure_space
from harrier_qdrant._quantization import edge_quantization

try:
    import qdrant_edge as edge
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the embedded Qdrant store needs qdrant-edge-py: pip install 'harrier-suite[qdrant]'"
    ) from exc

RECORD_FILE = "collection.json"
SHARD_FOLDER = "shard"
FORMAT = "harrier-qdrant-edge/1"
INDEXED_FIELDS = ("doc_id", "doc_hash")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")


def edge_config(
    dimension: int,
    quantization: str | None,
    indexing_threshold_kb: int | None = None,
    sparse: bool = False,
) -> edge.EdgeConfig:
    """The one place a collection's engine configuration is built (dense vector unnamed;
    with ``sparse``, the BM25 vector ``langchain-sparse`` with the IDF modifier).

    ``indexing_threshold_kb``: segments with fewer KB of vectors are scanned, not indexed
    (None: the engine's 10,000 KB, about 3,900 vectors of dimension 640).
    """
    optimizers = (
        None
        if indexing_threshold_kb is None
        else edge.EdgeOptimizersConfig(indexing_threshold=indexing_threshold_kb)
    )
    return edge.EdgeConfig(
        vectors=edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine),
        quantization_config=edge_quantization(quantization),
        sparse_vectors=(
            {SPARSE_VECTOR_NAME: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)}
            if sparse
            else None
        ),
        optimizers=optimizers,
        wal_enabled=True,
    )


def check_name(collection: str) -> None:
    """A collection name becomes a folder name: letters, digits, ``_``, ``.`` and ``-``."""
    if not isinstance(collection, str) or not _NAME.fullmatch(collection):
        raise ConfigurationError(
            f"collection name {collection!r} cannot be a folder name; use letters, digits, "
            "'_', '.' and '-' (not starting with '.' or '-')"
        )


def check_store_folder(root: Path) -> None:
    """Make the store folder, refusing a file, a folder that cannot be written, and a folder
    that qdrant-client's local mode wrote."""
    if (root / "meta.json").is_file() and (root / "collection").is_dir():
        names = sorted(p.name for p in (root / "collection").iterdir() if p.is_dir())
        name = names[0] if names else "NAME"
        raise StoreError(
            f"{root} holds a store written by qdrant-client's local mode (earlier harrier "
            f"versions); the default is now the Qdrant Edge engine. Read it as "
            f"--store qdrant-local:{root}, or move each collection with "
            f"`harrier copy --from qdrant-local:{root} --to qdrant:NEWPATH --collection {name}` "
            f"(collections there: {', '.join(names) or 'none'})"
        )
    prepare_store_folder(root, store="Qdrant store", spec="qdrant:PATH")


def read_record(folder: Path) -> dict[str, Any] | None:
    """The collection's record (model identity fields, ``dimension``, ``quantization``), or
    None when the collection does not exist."""
    path = folder / RECORD_FILE
    if not folder.exists():
        return None
    if not path.is_file():
        raise StoreDamagedError(
            f"{folder} exists but was not written by harrier (it has no {RECORD_FILE}); "
            "use another collection name, or move that folder away"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            raise ValueError(f"unknown format {record.get('format')!r}")
        ModelIdentity.from_record(record)
        int(record["dimension"])
        return dict(record)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreDamagedError(
            f"{path} is unreadable ({exc}); restore it from a backup, or ingest into a new "
            "collection (the shard beside it is left untouched)"
        ) from None


def write_record(
    folder: Path,
    model: ModelIdentity,
    dimension: int,
    quantization: str | None,
    bm25: dict[str, Any] | None = None,
) -> bool:
    """Create ``folder`` holding its record file, atomically: another process sees no folder or
    a folder with its record, never one without. False if another process created it first."""
    body = {
        "format": FORMAT,
        **model.to_record(),
        "dimension": dimension,
        "quantization": quantization,
        **({"bm25": bm25} if bm25 is not None else {}),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    with open(staging / RECORD_FILE, "w", encoding="utf-8") as handle:
        json.dump(body, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.rename(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if folder.is_dir():
            return False
        raise exc
    return True


def open_shard(path: Path, config: edge.EdgeConfig) -> edge.EdgeShard:
    """Load the shard at ``path``, creating it (with its payload indexes) when it is new.

    Loading replays the write-ahead log into the segments' mapped files: their holes are
    counted (and allocated on a full disk) first, see ``ensure_space``."""
    try:
        if (path / "edge_config.json").exists() or (path / "segments").exists():
            ensure_space(path, "opening the collection", growth=0, keep_free=0)
            shard = edge.EdgeShard.load(str(path))
        else:
            try:
                shard = edge.EdgeShard.create(str(path), config)
            except Exception as exc:  # another process created it meanwhile
                if "already contains" not in str(exc):
                    raise
                shard = edge.EdgeShard.load(str(path))
        indexed = set(shard.info().payload_schema)
        for name in INDEXED_FIELDS:
            if name not in indexed:
                shard.update(
                    edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Keyword)
                )
        return shard
    except StoreError:
        raise
    except Exception as exc:
        raise shard_error(exc, path, "opened") from None


def shard_error(exc: BaseException, path: Path, action: str) -> StoreError:
    """The typed error for an engine failure on the shard at ``path``."""
    message = str(exc)
    if "WouldBlock" in message:
        return StoreUnavailableError(
            f"the Qdrant shard {path} is open in another process; wait for that process to "
            "finish (one process at a time per embedded store), or use a Qdrant server "
            "(--store qdrant:http://HOST:6333) for concurrent writers"
        )
    problem = disk_problem(exc)
    if problem == "full":
        return StoreWriteError(
            f"the disk holding {path} is full ({message}): the Qdrant Edge engine needs at "
            f"least {MIN_FREE // 2**20} MB free there; free some space and run the same command "
            "again: nothing already stored was lost"
        )
    if problem == "read-only":
        return StoreUnavailableError(
            f"the Qdrant shard {path} cannot be {action}: the folder is not writable "
            f"({message}); make it writable, or copy the store to a writable folder"
        )
    return StoreDamagedError(
        f"the Qdrant shard {path} cannot be {action} ({message}); it is damaged or was not "
        "written by harrier. Restore it from a backup, or ingest again into a new collection "
        "or store path (your source documents are unchanged)"
    )


def optimize_with_progress(shard: edge.EdgeShard, label: str) -> BaseException | None:
    """Run the blocking ``optimize()`` in a thread, showing the time spent; its error, if any."""
    done = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            shard.optimize()
        except BaseException as exc:  # handed back to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="harrier-optimize", daemon=True).start()
    with tqdm(desc=label, disable=None, bar_format="{desc}: {elapsed}") as bar:
        while not done.wait(0.5):
            bar.update(0)
    return failure[0] if failure else None
