"""Ray Data ingestion into the real Milvus server leaves exactly the single-process store."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import harrier
from document_files import PDF_PAGES, write_encrypted_pdf, write_pdf
from harrier import SourceDocument, cli
from harrier_milvus import MilvusStore

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'harrier-suite[ray]'")
from harrier.ingestion.ray import ingest_on_ray, original_error  # noqa: E402

pytestmark = pytest.mark.server

MAX_TOKENS = 32
OBJECT_STORE = 80 * 2**20  # Ray's minimum is 75 MiB
RAY_OPTIONS = dict(max_tokens=MAX_TOKENS, actors=2, cpus_per_actor=0.5, batch_size=3)
COUNTS = (
    "documents",
    "unchanged",
    "skipped",
    "spans_written",
    "spans_deleted",
    "documents_pruned",
    "tokens",
)
TEXTS = [
    "Rivers carry water from the hills down to the sea. " * 12,
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。" * 5,
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "Emoji 🙂🚀 mixed with code: def f(x): return x * 2\n\nand a second paragraph.",
    "short",
    "Der schnelle braune Fuchs springt über den faulen Hund. " * 8,
]
CORPUS = [
    SourceDocument(f"doc-{i}", text, {"i": i, "tags": ["ray", str(i)], "nested": {"n": i / 3}})
    for i, text in enumerate(TEXTS * 2)
]


@pytest.fixture(scope="module")
def ray_cluster(milvus_server) -> Iterator[str]:
    """One local Ray per module (two CPUs, an object store of Ray's minimum size, own short
    temp dir); yields the store spec.

    Workers inherit the environment, so they log in with ``MILVUS_TOKEN`` as a user's would.
    """
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_MODE", "MILVUS_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="disabled", MILVUS_TOKEN=milvus_server.token)
    temp = tempfile.mkdtemp(prefix="hr-", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=temp,
        log_to_driver=False,
        object_store_memory=OBJECT_STORE,
    )
    try:
        yield f"milvus:{milvus_server.uri}"
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def assert_same_store(expected: MilvusStore, actual: MilvusStore) -> None:
    """Same documents, span ids, texts, positions, hashes, metadata; vectors within 1e-6."""
    assert sorted(actual.iter_doc_ids()) == sorted(expected.iter_doc_ids())
    assert actual.count() == expected.count()
    for doc_id in expected.iter_doc_ids():
        ours, theirs = actual.fetch_spans(doc_id), expected.fetch_spans(doc_id)
        assert [r.id for r in ours] == [r.id for r in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert (
                a.text,
                a.start,
                a.end,
                a.span_index,
                a.span_count,
                a.token_count,
                a.doc_hash,
                a.model,
                a.metadata,
            ) == (
                b.text,
                b.start,
                b.end,
                b.span_index,
                b.span_count,
                b.token_count,
                b.doc_hash,
                b.model,
                b.metadata,
            )
            np.testing.assert_allclose(a.vector, b.vector, atol=1e-6, rtol=0)


def assert_same_counts(report: harrier.IngestReport, expected: harrier.IngestReport) -> None:
    assert {k: getattr(report, k) for k in COUNTS} == {k: getattr(expected, k) for k in COUNTS}


def test_two_actors_write_the_single_process_store_and_a_job_moves_between_the_two(
    ray_cluster: str,
    open_server_store,
    qwen_engine: harrier.Embedder,
    qwen_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Both stores start from the same earlier run: a document that will shrink, one that will
    # grow, one that will be pruned and one that stays; the other eight are new.
    earlier = [
        SourceDocument("doc-0", TEXTS[0] * 2, CORPUS[0].metadata),
        SourceDocument("doc-4", "tiny", CORPUS[4].metadata),
        CORPUS[2],
        SourceDocument("gone", "This document leaves the corpus."),
    ]
    single, on_ray = open_server_store(), open_server_store()
    for store in (single, on_ray):
        harrier.ingest(earlier, store, qwen_engine, max_tokens=MAX_TOKENS)
    changed = [*CORPUS]
    changed[4] = SourceDocument("doc-4", TEXTS[5], CORPUS[4].metadata)

    expected = harrier.ingest(changed, single, qwen_engine, max_tokens=MAX_TOKENS, prune=True)
    report = ingest_on_ray(
        changed, ray_cluster, on_ray.collection, qwen_path, prune=True, **RAY_OPTIONS
    )
    assert (expected.unchanged, expected.documents_pruned) == (1, 1)
    assert expected.spans_deleted > 0 and expected.spans_written > len(CORPUS)
    assert_same_counts(report, expected)
    assert_same_store(single, on_ray)

    # Ray (from the command line) after one process, and one process after Ray: nothing to
    # embed, write or delete.
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"id": d.id, "text": d.text, "metadata": d.metadata}, ensure_ascii=False)
            + "\n"
            for d in changed
        )
    )
    assert (
        cli.main(
            [
                "ingest",
                str(jsonl),
                "--ray",
                "--actors",
                "2",
                "--collection",
                single.collection,
                "--store",
                ray_cluster,
                "--model",
                str(qwen_path),
                "--max-tokens",
                str(MAX_TOKENS),
                "--json",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    back = harrier.ingest(changed, on_ray, qwen_engine, max_tokens=MAX_TOKENS).to_dict()
    for rerun in (again, back):
        assert [rerun[k] for k in ("unchanged", "spans_written", "spans_deleted", "tokens")] == [
            len(CORPUS),
            0,
            0,
            0,
        ]
    assert_same_store(single, on_ray)


def test_the_command_line_flags() -> None:
    parse = cli.build_parser().parse_args
    common = ["ingest", "docs", "--collection", "c"]
    assert parse(common).ray is None
    local = parse([*common, "--ray", "--actors", "4", "--gpus-per-actor", "0.5"])
    assert (local.ray, local.actors, local.gpus_per_actor) == ("", 4, 0.5)
    assert parse([*common, "--ray", "ray://head:10001"]).ray == "ray://head:10001"


def test_large_files_stream_on_the_driver_as_in_one_process(
    ray_cluster: str,
    open_server_store,
    qwen_engine: harrier.Embedder,
    qwen_path: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "big.txt").write_text(TEXTS[0] * 4, encoding="utf-8")
    (tmp_path / "image.bin").write_bytes(b"\x00\x01" * 4096)  # skipped as binary
    single, on_ray = open_server_store(), open_server_store()
    options = dict(max_tokens=MAX_TOKENS, large_file_bytes=1024)
    expected = harrier.ingest(tmp_path, single, qwen_engine, **options)
    report = ingest_on_ray(
        tmp_path, ray_cluster, on_ray.collection, qwen_path, **options, sparse=False
    )
    assert (expected.documents, expected.skipped) == (1, 1) and expected.spans_written > 4
    assert_same_counts(report, expected)
    assert_same_store(single, on_ray)


def test_an_embedded_store_is_refused(qwen_path: Path) -> None:
    with pytest.raises(harrier.ConfigurationError, match="store server"):
        ingest_on_ray(CORPUS, "milvus:./local.db", "c", qwen_path)


def test_without_ray_the_error_names_the_extra(monkeypatch, qwen_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'harrier-suite\[ray\]'"):
        ingest_on_ray(CORPUS, "milvus:http://127.0.0.1:1", "c", qwen_path)


def test_a_stage_error_comes_back_as_the_original_error(
    ray_cluster: str, open_server_store, qwen_path: Path
) -> None:
    """A write task's StoreLimitError (a row over what one Milvus request carries) is raised by
    the driver as itself, from the task's cause, not rebuilt from traceback text. (A lone
    surrogate no longer reaches a store: the reader skips such a record.)"""
    store = open_server_store()
    bad = [SourceDocument("bad", "fine text", {"note": "x" * (33 * 2**20)})]
    with pytest.raises(harrier.StoreLimitError, match="one Milvus request may carry") as info:
        ingest_on_ray(bad, ray_cluster, store.collection, qwen_path, sparse=False, **RAY_OPTIONS)
    assert type(info.value) is harrier.StoreLimitError
    assert "Traceback" not in str(info.value) and "ray::" not in str(info.value)


def test_the_original_error_keeps_its_attributes() -> None:
    cause = harrier.TextTooLongError(3, 90, 32)
    wrapped = ray.exceptions.RayTaskError("MapBatches(Embed)", "Traceback ...", cause)
    for raised in (wrapped, wrapped.as_instanceof_cause()):
        error = original_error(raised)
        assert error is cause and (error.index, error.token_count, error.limit) == (3, 90, 32)
    assert original_error(ray.exceptions.RayTaskError("f", "tb", ValueError("x"))) is None


def test_prepare_actors_close_their_store_client(
    ray_cluster: str, open_server_store, qwen_path: Path
) -> None:
    from harrier.ingestion._ray_stages import Prepare

    collection = open_server_store().collection
    prepare = Prepare(
        ray_cluster,
        collection,
        harrier.EmbedderSettings(model=str(qwen_path)),
        MAX_TOKENS,
        0,
        "settings",
        convert_timeout=5.0,
    )
    client = prepare.store
    assert not client._closed
    del prepare  # what Ray Data does when it releases the actor
    assert client._closed


def test_embed_actors_get_the_whole_engine_settings(qwen_path: Path) -> None:
    """dtype, batch budget and revision reach the Embed actors, not only model and device."""
    from harrier.ingestion._ray_stages import Embed
    from harrier.ingestion.ray import actor_settings

    settings = harrier.EmbedderSettings(
        model=str(qwen_path), dtype="bfloat16", max_batch_tokens=512, device="cpu"
    )
    engine = actor_settings(None, settings, None, 0.0)
    assert engine == settings
    assert Embed(engine).embedder.settings == settings
    assert actor_settings(qwen_path, None, None, 1.0) == harrier.EmbedderSettings(
        model=str(qwen_path), device="cuda"
    )
    assert actor_settings(None, settings, "cuda:1", 1.0).device == "cuda:1"
    with pytest.raises(harrier.ConfigurationError, match="differs"):
        actor_settings("another/model", settings, None, 0.0)
    with pytest.raises(harrier.ConfigurationError, match="model= or settings="):
        actor_settings(None, None, None, 0.0)


def spilled_bytes() -> int:
    """Bytes Ray has spilled from the object store to disk since it started (all nodes)."""
    from ray._private.internal_api import get_memory_info_reply, get_state_from_address

    gcs = get_state_from_address(ray.get_runtime_context().gcs_address)
    return int(get_memory_info_reply(gcs).store_stats.spilled_bytes_total)


def write_heavy_docx(path: Path, sentence: str, payload: bytes) -> int:
    """A Word file with one sentence and ``payload`` as an unreferenced, stored (incompressible)
    part, as pictures make Word files heavy; its size in bytes."""
    import docx

    document = docx.Document()
    document.add_paragraph(sentence)
    document.save(str(path))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("word/media/picture.bin", payload)
    return path.stat().st_size


BLOCK_BYTES = 9 * 2**19  # 4.5 MiB a file: one file per block (the 4 MiB bound)


@pytest.mark.slow  # 75 to 130 s on two busy cores; the PDF folder test streams heavy files too
def test_a_corpus_three_times_the_object_store_streams_without_spilling(
    ray_cluster: str,
    open_server_store,
    qwen_engine: harrier.Embedder,
    qwen_path: Path,
    tmp_path: Path,
) -> None:
    """56 Word files with heavy pictures, 3.1 times the object store: their bytes travel from
    the driver to the Prepare actors, yet each has one sentence to embed.

    Before streaming, the driver put every block in the object store before the job started,
    so Ray spilled to disk at least what did not fit (here 172 MiB of 252 MiB; measured by
    putting 240 MiB in this store: 198 MiB spilled). Now the driver makes a block only when a
    read task takes one: a few blocks are in flight (measured: 24 MiB spilled at most)."""
    files = 56
    capacity = ray.cluster_resources()["object_store_memory"]
    assert capacity <= 1.05 * OBJECT_STORE
    rng = np.random.default_rng(0)
    folder, total = tmp_path / "docs", 0
    folder.mkdir()
    for i in range(files):
        total += write_heavy_docx(
            folder / f"report-{i:02d}.docx",
            f"Survey {i}: the river rose {i} centimetres overnight.",
            rng.bytes(BLOCK_BYTES),
        )
    single, on_ray = open_server_store(), open_server_store()
    expected = harrier.ingest(folder, single, qwen_engine, max_tokens=MAX_TOKENS)
    assert (expected.documents, expected.skipped) == (files, 0)
    assert expected.spans_written >= files

    before = spilled_bytes()
    report = ingest_on_ray(
        folder, ray_cluster, on_ray.collection, qwen_path, sparse=False, **RAY_OPTIONS
    )
    assert total > 3 * capacity  # so the old code spilled at least total - capacity
    assert spilled_bytes() - before <= 10 * BLOCK_BYTES < total - capacity
    assert_same_counts(report, expected)
    assert_same_store(single, on_ray)
    last = f"report-{files - 1:02d}.docx"
    assert f"the river rose {files - 1} centimetres" in on_ray.fetch_spans(last)[0].text


def test_a_pdf_folder_on_ray_gives_the_pages_and_the_skip_log_of_one_process(
    ray_cluster: str,
    open_server_store,
    qwen_engine: harrier.Embedder,
    qwen_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``harrier ingest --ray --skip-log``: the Prepare actors convert the PDF into the spans
    (with their pages) one process writes, and the log gets the skips found on the driver (a
    binary file) and in the actors (an encrypted PDF) as one process logs them. Two heavy Word
    files stream through the feed as blocks of their own."""
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "rivers.pdf", lines=4)
    write_encrypted_pdf(folder / "locked.pdf", write_pdf(tmp_path / "plain.pdf"))
    (folder / "image.bin").write_bytes(b"\x00\x01" * 64)
    (folder / "notes.txt").write_text(TEXTS[0], encoding="utf-8")
    rng = np.random.default_rng(0)
    for i in range(2):  # 4.5 MiB each: a block each, streamed through the feed
        write_heavy_docx(
            folder / f"survey-{i}.docx", f"Survey {i}: the river rose.", rng.bytes(BLOCK_BYTES)
        )
    single, on_ray = open_server_store(), open_server_store()
    expected = harrier.ingest(
        folder, single, qwen_engine, max_tokens=MAX_TOKENS, skip_log=tmp_path / "single.jsonl"
    )
    assert (
        cli.main(
            [
                "ingest",
                str(folder),
                "--ray",
                "--actors",
                "2",
                "--collection",
                on_ray.collection,
                "--store",
                ray_cluster,
                "--model",
                str(qwen_path),
                "--max-tokens",
                str(MAX_TOKENS),
                "--no-sparse",
                "--json",
                "--skip-log",
                str(tmp_path / "ray.jsonl"),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in COUNTS} == {k: getattr(expected, k) for k in COUNTS}
    assert_same_store(single, on_ray)

    pdf = on_ray.fetch_spans("rivers.pdf")
    assert len(pdf) > len(PDF_PAGES)  # several spans, some within a page
    for span in pdf:
        pages = range(span.metadata["page_start"], span.metadata["page_end"] + 1)
        assert [s for s in PDF_PAGES if s in span.text] == [
            PDF_PAGES[p - 1] for p in pages if PDF_PAGES[p - 1] in span.text
        ]
    assert {s.metadata["page_start"] for s in pdf} == {1, 2, 3}

    def logged(name: str) -> list[dict[str, str]]:
        lines = (tmp_path / name).read_text(encoding="utf-8").splitlines()
        return sorted((json.loads(line) for line in lines), key=lambda skip: skip["id"])

    skips = logged("ray.jsonl")
    assert [skip["id"] for skip in skips] == ["image.bin", "locked.pdf"]
    assert skips == logged("single.jsonl")
