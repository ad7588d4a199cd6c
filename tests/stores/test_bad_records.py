"""One bad record never stops the others: a JSON Lines file with 1% bad records of every kind
ingests the other 99% exactly as the clean file does, on every embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import harrier
from harrier import SourceDocument

GOOD_LINES = 800

BAD_LINES: list[tuple[str, bytes]] = [  # (the reason's first words, the line)
    ("text is not valid Unicode", b'{"id": "bad-text", "text": "a \\udfff b"}'),
    ("id is not valid Unicode", b'{"id": "a\\udfffb", "text": "a good text"}'),
    (
        "metadata holds NaN or Infinity, which JSON cannot hold",
        b'{"text": "n", "metadata": {"x": NaN}}',
    ),
    (
        "metadata holds NaN or Infinity, which JSON cannot hold",
        b'{"text": "i", "metadata": {"x": [-Infinity]}}',
    ),
    ("metadata is not valid Unicode", b'{"id": "m", "text": "m", "metadata": {"k\\ud800": 1}}'),
    ("not valid UTF-8", b'{"id": "utf", "text": "caf\xe9 au lait"}'),
    ('each line must be an object with a string "text"', b'["not", "an", "object"]'),
    ("invalid JSON", b'{"id": "cut", "text": "the line ends'),
]


def _good_line(n: int) -> bytes:
    record: dict[str, object] = {"text": f"Record {n}: the quick brown fox, number {n * 7}."}
    if n % 3:
        record["id"] = f"r{n}"
    if n % 5 == 0:
        record["metadata"] = {"n": n, "tag": ["a", "b"][n % 2], "ratio": n / 7}
    return json.dumps(record, ensure_ascii=n % 2 == 0).encode("utf-8")


def _files(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """The clean file and the same lines with the bad ones spread among them (one of each kind
    per 100 good lines), in folders of their own so both have the same name (content ids
    start with it); and the names of the bad lines."""
    good = [_good_line(n) for n in range(GOOD_LINES)]
    bad = [line for _, line in BAD_LINES] * (GOOD_LINES // (100 * len(BAD_LINES)) + 1)
    mixed: list[bytes] = []
    expected: set[str] = set()
    step = len(good) // len(bad)
    for i, line in enumerate(good):
        mixed.append(line)
        if i % step == step // 2 and bad:
            mixed.append(bad.pop())
            expected.add(f"records.jsonl:{len(mixed)}")
    (tmp_path / "clean").mkdir()
    (tmp_path / "mixed").mkdir()
    clean_file, mixed_file = tmp_path / "clean/records.jsonl", tmp_path / "mixed/records.jsonl"
    clean_file.write_bytes(b"\n".join(good) + b"\n")
    mixed_file.write_bytes(b"\n".join(mixed) + b"\n")
    return clean_file, mixed_file, expected


def _records(store: harrier.VectorStore) -> dict[str, harrier.SpanRecord]:
    return {r.id: r for batch in store.iter_records() for r in batch}


def test_bad_records_are_skipped_by_line_and_the_rest_ingested_exactly(
    open_store, qwen_engine, tmp_path
):
    clean_file, mixed_file, bad_lines = _files(tmp_path)
    assert len(bad_lines) / GOOD_LINES >= 0.01
    store = open_store("clean")
    clean = harrier.ingest(clean_file, store, qwen_engine)
    assert clean.skipped == 0 and clean.spans_written == GOOD_LINES
    expected = _records(store)
    store = open_store("mixed")
    for run in range(2):  # the re-run skips the same lines and writes nothing
        log = tmp_path / f"skips{run}.jsonl"
        report = harrier.ingest(mixed_file, store, qwen_engine, skip_log=log)
        skips = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        assert {s["id"] for s in skips} == bad_lines
        assert {s["reason"].partition(":")[0] for s in skips} == {r for r, _ in BAD_LINES}
        assert report.skipped == len(bad_lines)
        assert report.spans_written == (GOOD_LINES if run == 0 else 0)
    got = _records(store)
    assert got.keys() == expected.keys()
    assert all(got[key] == expected[key] for key in expected)  # vectors, text, metadata


def test_in_memory_documents_that_cannot_be_stored_are_skipped(open_store, qwen_engine, tmp_path):
    store = open_store()
    docs = [
        SourceDocument("ok-1", "first good text"),
        SourceDocument("bad\udc80", "an id with a lone surrogate"),
        SourceDocument("bad-text", "lone \ud83d surrogate"),
        SourceDocument("nan", "nan metadata", {"x": float("nan")}),
        SourceDocument("bytes", "bytes metadata", {"x": b"raw"}),
        SourceDocument("ok-2", "second good text"),
    ]
    report = harrier.ingest(docs, store, qwen_engine, skip_log=tmp_path / "skips.jsonl")
    assert report.spans_written == 2 and report.skipped == 4
    skips = (tmp_path / "skips.jsonl").read_text(encoding="utf-8").splitlines()
    assert {"{id}: {reason}".format(**json.loads(line)) for line in skips} == {
        "bad\\udc80: id is not valid Unicode: a lone surrogate at character 3",
        "bad-text: text is not valid Unicode: a lone surrogate at character 5",
        "nan: metadata holds NaN or Infinity, which JSON cannot hold: store it as a string",
        "bytes: metadata is not JSON-able: Object of type bytes is not JSON serializable",
    }
    assert sorted(r.doc_id for batch in store.iter_records() for r in batch) == ["ok-1", "ok-2"]
