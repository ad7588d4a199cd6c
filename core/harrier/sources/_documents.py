"""Ingestion sources: folders, JSON Lines, and LangChain / LlamaIndex documents, streamed."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import re
import stat
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from harrier._errors import SourceError
from harrier.sources._folders import FolderFilter, walk_folder
from harrier.sources._validation import printable, storage_problem
from harrier.sources.convert import ConvertedFile, Unconvertible, detect_format
from harrier.sources.convert._registry import BY_EXTENSION, CONVERTERS, check_convertible

_SNIFF_BYTES = 8192
READABLE = f"not a format harrier reads ({', '.join(f.upper() for f in CONVERTERS)}, or UTF-8 text)"
"""Why a binary file is skipped: a legacy Office file (``.doc``, ``.xls``), an image, an archive."""
LARGE_FILE_BYTES = 16 * 2**20
"""Files larger than this are streamed in pieces instead of read whole."""
_PIECE_CHARS = 4 * 2**20
_CUTS = (re.compile(r"(?s:.*)\n"), re.compile(r"(?s:.*)\s"))  # last newline, else whitespace
_ARCHIVES = frozenset({".tar", ".cpio"})


@dataclass(frozen=True)
class SourceDocument:
    """One document to ingest: a stable id, its full text and JSON-able metadata.

    ``pages``: the start offset of each page in ``text`` (converted PDFs and slide decks), from
    which each span gets ``page_start`` / ``page_end`` (1-based) in its metadata.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class LazyDocument:
    """A document whose text is produced on demand, only when it changed.

    ``digest`` stands for the text in the document hash (e.g. a SHA-256 of the raw bytes plus
    the converter's name and version); ``load()`` returns ``(text, metadata, page starts)``
    (the metadata replaces ``metadata``; page starts as in :class:`SourceDocument`), or raises
    ``SourceError`` to skip the document.
    """

    id: str
    digest: str
    load: Callable[[], tuple[str, dict[str, Any], tuple[int, ...]]] = field(compare=False)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A source item that was not ingested, and why. ``document``: the id of the source's
    document it stands for, where known (a pruning run keeps that document's stored spans: it
    is still in the source, only unreadable this time); None for a record without one."""

    id: str
    reason: str
    document: str | None = None

    @classmethod
    def at(cls, where: str, reason: str, document: str | None = None) -> Skipped:
        """An item shown as ``where`` (a document's id, or ``NAME:LINE`` of a JSON Lines file),
        made printable; ``document``: the id of the document it stands for, where known."""
        return cls(printable(where), reason, document)

    @classmethod
    def of(cls, doc_id: str, reason: str) -> Skipped:
        """A skipped document, known by its id."""
        return cls.at(doc_id, reason, doc_id)


@dataclass(frozen=True)
class LargeFile:
    """A text file too large to hold in memory: read in pieces by :func:`iter_text_pieces`."""

    id: str
    path: Path
    metadata: dict[str, Any]


SourceItem = SourceDocument | LazyDocument | LargeFile | ConvertedFile | Skipped


def check_source(source: Any) -> None:
    """Raise :class:`SourceError` for a path that is neither a folder nor a file: checked
    before a model loads or a collection is made (in-memory documents pass)."""
    if isinstance(source, (str, Path)) and not (Path(source).is_dir() or Path(source).is_file()):
        raise SourceError(f"source {str(source)!r} is neither a folder nor a file")


def iter_source(
    source: str | Path | Iterable[Any],
    *,
    large_file_bytes: int = LARGE_FILE_BYTES,
    folder: FolderFilter | None = None,
    line_bytes: dict[str, int] | None = None,
) -> Iterator[SourceItem]:
    """Yield documents (or skips) from a folder, a ``.jsonl`` file, a file or documents.

    A folder is walked as ``folder`` says (default: :class:`FolderFilter`, which honours
    ``.gitignore`` files). PDF, Office, HTML and EPUB files become :class:`ConvertedFile`
    items, converted later and only when changed; other files are read as UTF-8 text, and so
    is a gzip-compressed text file (``NAME.gz``, ``NAME.txt.gz``: decompressed).

    In-memory items may be ``SourceDocument``, LangChain ``Document`` (``page_content``,
    ``metadata``, optional ``id``) or LlamaIndex ``Document`` (``text``, ``metadata``, ``id_``).

    ``line_bytes``: for a JSON Lines file, each item's id gets the bytes of its line added as
    the item is yielded (a run's progress counts them: one large record among small ones).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            yield from _iter_folder(path, large_file_bytes, folder or FolderFilter())
        elif path.is_file() and path.suffix in {".jsonl", ".ndjson"}:
            yield from _iter_jsonl(path, large_file_bytes, line_bytes)
        else:
            check_source(path)
            yield _read_file(path, path.parent, large_file_bytes)
        return
    content_id = ContentIds("document:")
    for position, item in enumerate(source):
        yield _from_object(item, position, content_id)


def _iter_folder(root: Path, large_file_bytes: int, where: FolderFilter) -> Iterator[SourceItem]:
    for path, reason in walk_folder(root, where):
        if reason is not None:
            yield Skipped.of(path.relative_to(root).as_posix(), reason)
        else:
            yield _read_file(path, root, large_file_bytes)


def _read_file(path: Path, root: Path, large_file_bytes: int) -> SourceItem:
    doc_id = path.relative_to(root).as_posix()
    if storage_problem(doc_id, None, {}) is not None:  # undecodable bytes, surrogate-escaped
        return Skipped.of(doc_id, "file name is not valid UTF-8: rename the file to ingest it")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return Skipped.of(doc_id, "not a regular file: a pipe, socket or device")
        with path.open("rb") as stream:
            if path.suffix.lower() == ".gz":
                return _read_gzip(stream, doc_id, path.stem, large_file_bytes)
            head = stream.read(_SNIFF_BYTES)
            fmt = detect_format(path, head)
            if fmt is not None:
                check_convertible(fmt, info.st_size)
                return ConvertedFile(doc_id, path, fmt, info.st_size, {"source": doc_id})
            if b"\x00" in head:
                return Skipped.of(doc_id, f"binary file: {READABLE}")
            if info.st_size > large_file_bytes:
                return LargeFile(doc_id, path, {"source": doc_id})
            data = head + stream.read()
    except Unconvertible as exc:
        return Skipped.of(doc_id, str(exc))
    except OSError as exc:
        return Skipped.of(doc_id, f"cannot read: {exc.strerror or exc}")
    return _text_document(doc_id, data)


def _read_gzip(stream: BinaryIO, doc_id: str, inner: str, limit: int) -> SourceItem:
    """A gzip-compressed file (``NAME.EXT.gz``, as Debian ships changelogs and READMEs), read
    as a text file ``NAME.EXT`` would be: the same binary and UTF-8 checks on its decompressed
    bytes, of which at most ``limit`` are read (a gzip bomb is skipped). A compressed document
    to convert (``x.pdf.gz``) or archive (``x.tar.gz``) is skipped."""
    suffix = Path(inner).suffix.lower()
    if suffix in _ARCHIVES or suffix in BY_EXTENSION:
        what = "archive" if suffix in _ARCHIVES else f"{BY_EXTENSION[suffix].upper()} file"
        return Skipped.of(doc_id, f"compressed {what}: only compressed text files are read")
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:
            data = unzipped.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        return Skipped.of(doc_id, f"corrupt gzip file: {exc}")
    if len(data) > limit:
        return Skipped.of(
            doc_id,
            f"too large decompressed: over {limit:,} bytes, the limit against gzip bombs "
            "(decompress it, large files are streamed, or raise large_file_bytes)",
        )
    head = data[:_SNIFF_BYTES]
    if fmt := detect_format(Path(inner), head, data):  # never raises: no claimed format
        return Skipped.of(
            doc_id, f"compressed {fmt.upper()} file: only compressed text files are read"
        )
    if b"\x00" in head:
        return Skipped.of(doc_id, f"binary file once decompressed: {READABLE}")
    return _text_document(doc_id, data)


def _text_document(doc_id: str, data: bytes) -> SourceItem:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped.of(doc_id, f"not valid UTF-8: byte {exc.start}")
    if not text.strip():
        return Skipped.of(doc_id, "empty or whitespace only")
    return SourceDocument(doc_id, text, {"source": doc_id})


class ContentIds:
    """Ids for documents that give none: ``PREFIX`` plus a digest of text and metadata, so
    reordering a source keeps every id; the n-th exact duplicate in a run gets ``#n``. An
    edited document gets a new id (the old one is pruned with ``prune``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counts: Counter[str] = Counter()

    def __call__(self, text: str, metadata: Any) -> str:
        content = json.dumps([text, metadata], sort_keys=True, ensure_ascii=False, default=repr)
        digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        self._counts[digest] += 1
        count = self._counts[digest]
        return f"{self.prefix}{digest}" + (f"#{count}" if count > 1 else "")


def _iter_jsonl(
    path: Path, max_line_bytes: int, line_bytes: dict[str, int] | None = None
) -> Iterator[SourceItem]:
    """Each line on its own: a line that cannot be stored as it is (invalid UTF-8 or JSON, not
    an object, a text or id that is not valid Unicode, metadata that is not strict JSON, over
    ``max_line_bytes``) is skipped as ``NAME:LINE`` with the reason; the others are read."""
    content_id = ContentIds(f"{path.name}:")
    with path.open("rb") as stream:
        for number, (line, length) in enumerate(_bounded_lines(stream, max_line_bytes), 1):
            where = f"{path.name}:{number}"
            if line is None:
                item: SourceItem | None = Skipped.at(
                    where,
                    f"line longer than {max_line_bytes:,} bytes: put such a text in a file "
                    "of its own (files are streamed) or raise large_file_bytes",
                )
            else:
                item = _jsonl_record(line, number, where, content_id)
            if item is not None:
                if line_bytes is not None:
                    line_bytes[item.id] = line_bytes.get(item.id, 0) + length
                yield item


def jsonl_line_bytes(path: Path) -> Iterator[int]:
    """The bytes of each line of a JSON Lines file that is not blank (the lines
    :func:`iter_source` yields an item for), read in bounded pieces: a run's first pass."""
    with path.open("rb") as stream:
        for line, length in _bounded_lines(stream, _PIECE_CHARS):
            if line is None or line.strip():
                yield length


def _bounded_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[bytes | None, int]]:
    """The lines of ``stream`` and their lengths in bytes; None for a line over ``limit``
    bytes, read past in pieces."""
    while line := stream.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            length = len(line)
            while (rest := stream.readline(_PIECE_CHARS)) and not rest.endswith(b"\n"):
                length += len(rest)
            yield None, length + len(rest)
        else:
            yield line, len(line)


def _jsonl_record(
    line: bytes, number: int, where: str, content_id: ContentIds
) -> SourceItem | None:
    try:
        decoded = line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        return Skipped.at(where, f"not valid UTF-8: byte {exc.start} of the line")
    if not decoded.strip():
        return None
    try:
        record = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return Skipped.at(where, f"invalid JSON: {exc.msg}")
    except (ValueError, RecursionError) as exc:  # a huge integer, deep nesting
        return Skipped.at(where, f"invalid JSON: {type(exc).__name__}: {exc}"[:200])
    given = record.get("id") if isinstance(record, dict) else None
    known = None if given is None else str(given)
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return Skipped.at(where, 'each line must be an object with a string "text"', known)
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        return Skipped.at(where, '"metadata" must be an object', known)
    doc_id = known if known is not None else content_id(record["text"], metadata)
    if problem := storage_problem(doc_id, record["text"], metadata):
        return Skipped.at(where, problem, doc_id)
    return _checked(SourceDocument(doc_id, record["text"], metadata))


def _from_object(item: Any, position: int, content_id: ContentIds) -> SourceItem:
    if isinstance(item, SourceDocument):
        return _checked(item)
    if isinstance(item, LazyDocument):
        return item
    if hasattr(item, "page_content"):  # LangChain Document
        metadata = dict(item.metadata)
        doc_id = getattr(item, "id", None) or content_id(item.page_content, metadata)
        return _checked(SourceDocument(str(doc_id), item.page_content, metadata))
    if hasattr(item, "text") and hasattr(item, "id_"):  # LlamaIndex Document
        return _checked(SourceDocument(str(item.id_), item.text, dict(item.metadata)))
    raise SourceError(
        f"item {position} is a {type(item).__name__}; pass SourceDocument, LangChain or "
        "LlamaIndex documents"
    )


def _checked(doc: SourceDocument) -> SourceItem:
    if not doc.text.strip():
        return Skipped.of(doc.id, "empty or whitespace only")
    return doc


def iter_text_pieces(path: Path, piece_chars: int | None = None) -> Iterator[tuple[int, str]]:
    """``(character offset, text)`` pieces that tile a UTF-8 file, each cut after a newline (else
    whitespace) where one is near its end. Raises ``UnicodeDecodeError`` on invalid UTF-8."""
    piece_chars = piece_chars or _PIECE_CHARS
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    offset, carry = 0, ""
    with path.open("rb") as stream:
        while chunk := stream.read(piece_chars):
            carry += decoder.decode(chunk)
            while len(carry) >= piece_chars:
                cut = _cut(carry, piece_chars - piece_chars // 8, piece_chars)
                yield offset, carry[:cut]
                offset, carry = offset + cut, carry[cut:]
        carry += decoder.decode(b"", final=True)
    if carry:
        yield offset, carry


def _cut(text: str, low: int, high: int) -> int:
    for pattern in _CUTS:
        if match := pattern.match(text, low, high):
            return match.end()
    return high
