"""``SqliteStore``: a harrier ``VectorStore`` in one SQLite file, searched by brute force."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harrier.stores import (
    SPAN_FIELDS,
    Hit,
    ModelIdentity,
    SpanRecord,
    StoreError,
    StoreUnavailableError,
    VectorStore,
    canonical_json,
)
from harrier_store_sqlite._filters import SUPPORTED_OPERATORS, to_sql

DEFAULT_PATH = Path(".harrier") / "sqlite.db"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, properties TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spans (
    collection TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL,
    vector BLOB NOT NULL, {", ".join(f"{name} NOT NULL" for name in SPAN_FIELDS)},
    PRIMARY KEY (collection, id)
);
CREATE INDEX IF NOT EXISTS spans_doc ON spans (collection, doc_id);
"""
_RECORD_COLUMNS = ("id", "text", "metadata", "vector", *SPAN_FIELDS)


class SqliteStore(VectorStore):
    """A collection in the SQLite file ``path``: exact cosine search over every stored vector
    (numpy), filters in SQL (docs/filters.md). Dense search only: no BM25 vectors."""

    supported_operators = SUPPORTED_OPERATORS
    sparse = False
    delete_chunk_size = 500  # under SQLite's bound-parameter limit

    def __init__(self, collection: str, *, path: str | Path | None = None) -> None:
        self.collection = collection
        self.path = Path(path if path is not None else DEFAULT_PATH)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder; the SQLite store is one file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(
                f"cannot open the SQLite store {self.path}: {exc}"
            ) from None

    def __repr__(self) -> str:
        return f"SqliteStore({self.collection!r}, {self.path})"

    # -- collection ----------------------------------------------------------------------------
    def collection_properties(self) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT properties FROM collections WHERE name = ?", (self.collection,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        properties = json.dumps(self.properties(model, dimension))
        self._run(
            f"creating the collection {self.collection!r}",
            "INSERT OR IGNORE INTO collections VALUES (?, ?)",
            [(self.collection, properties)],
        )

    def close(self) -> None:
        self._db.close()

    # -- reads ---------------------------------------------------------------------------------
    def scan_spans(
        self, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterable[dict[str, Any]]:
        columns = ", ".join(name for name in fields if name in SPAN_FIELDS)
        if doc_ids is None:
            rows = self._db.execute(
                f"SELECT {columns} FROM spans WHERE collection = ?", (self.collection,)
            )
            yield from (dict(zip(fields, row, strict=True)) for row in rows)
            return
        for start in range(0, len(doc_ids), 500):  # SQLite's bound-parameter limit
            chunk = list(doc_ids[start : start + 500])
            rows = self._db.execute(
                f"SELECT {columns} FROM spans WHERE collection = ? AND doc_id IN "
                f"({', '.join('?' * len(chunk))})",
                (self.collection, *chunk),
            )
            yield from (dict(zip(fields, row, strict=True)) for row in rows.fetchall())

    def search_vector(self, vector: np.ndarray, k: int, filter: Any = None) -> list[Hit]:
        where, params = to_sql(filter)
        rows = self._db.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM spans WHERE collection = ? AND {where}",
            (self.collection, *params),
        ).fetchall()
        if not rows:
            return []
        records = [_record(row) for row in rows]
        matrix = np.stack([r.vector for r in records])
        query = np.asarray(vector, dtype=np.float32)
        scores = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
        best = np.argsort(-scores, kind="stable")[:k]
        return [_hit(records[i], float(scores[i])) for i in best]

    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        rows = self._db.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM spans WHERE collection = ? AND doc_id = ? "
            "ORDER BY span_index",
            (self.collection, doc_id),
        )
        return [_record(row) for row in rows]

    def iter_records(self, batch_size: int = 256) -> Iterator[list[SpanRecord]]:
        rows = self._db.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM spans WHERE collection = ? ORDER BY id",
            (self.collection,),
        )
        while page := rows.fetchmany(batch_size):
            yield [_record(row) for row in page]

    def count(self) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM spans WHERE collection = ?", (self.collection,)
        )
        return int(row.fetchone()[0])

    # -- writes (each one transaction) ---------------------------------------------------------
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        rows = [
            (
                self.collection,
                r.id,
                r.text,
                canonical_json(r.metadata),
                np.asarray(r.vector, dtype=np.float32).tobytes(),
                *r.span_fields().values(),
            )
            for r in records
        ]
        columns = ("collection", *_RECORD_COLUMNS)
        self._run(
            f"writing {len(rows)} spans",
            f"INSERT OR REPLACE INTO spans ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            rows,
        )

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        self._run(
            f"deleting stale spans of {doc_id!r}",
            "DELETE FROM spans WHERE collection = ? AND doc_id = ? AND doc_hash != ?",
            [(self.collection, doc_id, keep_hash)],
        )

    def delete_document_chunk(self, doc_ids: Sequence[str]) -> None:
        self._run(
            f"deleting {len(doc_ids)} documents",
            f"DELETE FROM spans WHERE collection = ? AND doc_id IN "
            f"({', '.join('?' * len(doc_ids))})",
            [(self.collection, *doc_ids)],
        )

    def _run(self, what: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One write transaction, retried while another writer holds the file."""

        def transaction() -> None:
            with self._db:
                self._db.executemany(sql, rows)

        self._write(what, transaction)

    # -- errors --------------------------------------------------------------------------------
    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def translate_error(self, what: str, exc: BaseException) -> StoreError | None:
        if isinstance(exc, sqlite3.Error):
            return StoreError(f"{what} in {self.path} failed: {exc}")
        return None


def _record(row: Sequence[Any]) -> SpanRecord:
    values = dict(zip(_RECORD_COLUMNS, row, strict=True))
    return SpanRecord.from_fields(
        values["id"],
        np.frombuffer(values["vector"], dtype=np.float32),
        values["text"],
        json.loads(values["metadata"]),
        values,
    )


def _hit(record: SpanRecord, score: float) -> Hit:
    return Hit(
        text=record.text,
        score=score,
        doc_id=record.doc_id,
        span_index=record.span_index,
        start=record.start,
        end=record.end,
        metadata=record.metadata,
        id=record.id,
    )
