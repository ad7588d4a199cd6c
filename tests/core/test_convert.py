"""Converters without a model: detection by content, the worker's time limit, PDF memory that
does not grow with the page count, the missing-extra message, and the skip report."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import tracemalloc
import zipfile

import pytest

from document_files import PDF_PAGES, write_all, write_pdf
from harrier.ingestion._ingest import IngestReport
from harrier.sources._documents import Skipped, iter_source
from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible
from harrier.sources.convert.pdf import convert_pdf


def test_formats_are_detected_by_content_whatever_the_name(tmp_path):
    folder = write_all(tmp_path / "named")
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in folder.iterdir():  # the same files without their extension
        (bare / path.stem).write_bytes(path.read_bytes())
    (bare / "plain.zip").write_bytes(_zip({"a.txt": "x"}))
    formats = {i.id: getattr(i, "format", None) for i in iter_source(bare)}
    assert formats == {
        "rivers": "pdf",
        "survey": "docx",
        "results": "pptx",
        "cities": "xlsx",
        "article": "html",
        "tales": "epub",
        "plain.zip": None,
    }
    [zipped] = iter_source(bare / "plain.zip")  # binary, not a document
    assert isinstance(zipped, Skipped) and zipped.reason == (
        "binary file: not a format harrier reads (PDF, DOCX, PPTX, XLSX, HTML, EPUB, or UTF-8 text)"
    )


def test_a_hung_conversion_times_out_and_the_next_file_converts(tmp_path):
    fifo = tmp_path / "never-written.pdf"
    os.mkfifo(fifo)  # opening it for reading blocks for ever: a hang inside the worker
    pdf = write_pdf(tmp_path / "rivers.pdf")
    converter = FileConverter(timeout=1.0)
    try:
        with pytest.raises(Unconvertible, match="conversion timed out: over 1 s"):
            converter.convert(ConvertedFile("hang", fifo, "pdf", 0))
        text, metadata, pages = converter.convert(ConvertedFile("ok", pdf, "pdf", 1))
    finally:
        converter.close()
    assert text == "\n\n".join(PDF_PAGES) and len(pages) == 3 and metadata["pages"] == 3


def test_ctrl_c_at_the_terminal_leaves_the_conversion_worker_to_its_parent(tmp_path, capfd):
    """A terminal's Ctrl-C reaches the whole process group: the worker ignores it (the run
    stops and closes it) instead of dying with a traceback on the user's screen."""
    pdf = write_pdf(tmp_path / "rivers.pdf")
    converter = FileConverter(timeout=30.0)
    try:
        converter.convert(ConvertedFile("a", pdf, "pdf", 0))
        process = converter.worker._process
        assert process is not None
        process.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)
        text, _, _ = converter.convert(ConvertedFile("b", pdf, "pdf", 1))
        assert converter.worker._process is process and text == "\n\n".join(PDF_PAGES)
    finally:
        converter.close()
    assert "Traceback" not in capfd.readouterr().err


def test_pdf_pages_convert_in_bounded_memory(tmp_path):
    """Working memory beyond pypdf's page index stays flat from 50 to 400 pages (keeping what
    each page resolved would add about 3 KB a page)."""

    def working_memory(pages: int) -> float:
        path = write_pdf(
            tmp_path / f"p{pages}.pdf",
            [f"Page {n} of the long report, with some words." for n in range(pages)],
        )
        tracemalloc.start()
        with path.open("rb") as stream:
            conversion = convert_pdf(stream)
            opened = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            texts = [len(page) for page in conversion.pieces]
            peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(texts) == pages and min(texts) > 0
        return (peak - opened) / 2**20

    small, large = working_memory(50), working_memory(400)
    assert large < small + 0.5, (small, large)


def test_a_missing_converter_names_the_extra(tmp_path, monkeypatch):
    write_pdf(tmp_path / "a.pdf")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pypdf" else find_spec(name, *a),
    )
    (item,) = iter_source(tmp_path)
    assert isinstance(item, Skipped)
    assert (
        item.reason.startswith("needs the documents extra: pip install 'harrier-suite[documents]'")
        and "pypdf" in item.reason
    )


def test_the_skip_report_counts_by_reason_and_logs_everything():
    log = io.StringIO()
    report = IngestReport(skip_log=log)
    for n in range(500):
        report.add_skip(Skipped(f"lib/m{n}.so", "binary file"))
    report.add_skip(Skipped("a.pdf", "encrypted: the PDF needs a password"))
    assert report.skips == {
        "binary file": {"count": 500, "examples": ["lib/m0.so", "lib/m1.so", "lib/m2.so"]},
        "encrypted": {"count": 1, "examples": ["a.pdf"]},
    }
    assert report.skipped == 501 and len(json.dumps(report.to_dict())) < 1000
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert len(lines) == 501 and lines[-1] == {
        "id": "a.pdf",
        "reason": "encrypted: the PDF needs a password",
    }


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
