"""Converters without a model: detection by content, the worker's time limit, PDF memory that
does not grow with the page count, the missing-extra message, and the skip report."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from document_files import PDF_PAGES, write_all, write_pdf, write_rtf
from harrier.ingestion._ingest import IngestReport
from harrier.sources._documents import Skipped, iter_source
from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible
from harrier.sources.convert._registry import BUILT_IN, CONVERTERS
from harrier.sources.convert.pdf import convert_pdf
from harrier.testing.converter_contract import (
    EDITS,
    KEEP,
    check_converted_or_skipped,
    damage,
)


def test_formats_are_detected_by_content_whatever_the_name(tmp_path):
    folder = write_all(tmp_path / "named")
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in folder.iterdir():  # the same files without their extension
        (bare / path.stem).write_bytes(path.read_bytes())
    (bare / "plain.zip").write_bytes(_zip({"a.txt": "x"}))
    write_rtf(bare / "notes")
    formats = {i.id: getattr(i, "format", None) for i in iter_source(bare)}
    assert formats == {
        "rivers": "pdf",
        "survey": "docx",
        "results": "pptx",
        "cities": "xlsx",
        "article": "html",
        "tales": "epub",
        "minutes": "odt",
        "flood": "odp",
        "lengths": "ods",
        "notes": "rtf",
        "plain.zip": None,
    }
    [zipped] = iter_source(bare / "plain.zip")  # binary, not a document
    added = "".join(f"{fmt.upper()}, " for fmt in CONVERTERS.keys() - BUILT_IN)  # packages'
    assert isinstance(zipped, Skipped) and zipped.reason == (
        "binary file: not a format harrier reads (PDF, DOCX, PPTX, XLSX, ODT, ODP, ODS, HTML, "
        f"EPUB, DOC, XLS, PPT, RTF, {added}or UTF-8 text)"
    )


MAIN_PARTS = {
    ".docm": "application/vnd.ms-word.document.macroEnabled.main+xml",
    ".dotx": "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    ".dotm": "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
    ".pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
}
"""The main part's content type of each macro-enabled or template variant, as Office writes."""


def test_macro_enabled_and_template_office_files_read_as_their_family(tmp_path):
    originals = write_all(tmp_path / "originals")
    variants = tmp_path / "variants"
    variants.mkdir()
    family = {".docm": "survey.docx", ".dotx": "survey.docx", ".dotm": "survey.docx"}
    family |= {".pptm": "results.pptx", ".xlsm": "cities.xlsx"}
    for suffix, original in family.items():
        with zipfile.ZipFile(originals / original) as source:
            parts = {name: source.read(name) for name in source.namelist()}
        types = parts["[Content_Types].xml"].decode()
        standard = re.search(r'ContentType="([^"]+\.main\+xml)"', types)
        assert standard is not None
        parts["[Content_Types].xml"] = types.replace(standard[1], MAIN_PARTS[suffix]).encode()
        with zipfile.ZipFile(variants / f"variant{suffix}", "w") as variant:
            for name, data in parts.items():
                variant.writestr(name, data)
    converter = FileConverter(timeout=30.0)
    try:
        for suffix, original in family.items():
            [item] = iter_source(variants / f"variant{suffix}")
            [reference] = iter_source(originals / original)
            assert isinstance(item, ConvertedFile) and isinstance(reference, ConvertedFile)
            assert item.format == reference.format
            assert converter.convert(item)[0] == converter.convert(reference)[0], suffix
    finally:
        converter.close()


def test_a_password_protected_office_file_is_skipped_as_encrypted(tmp_path):
    """Office encrypts a DOCX, XLSX or PPTX into an OLE2 container (msoffcrypto-tool does as
    Office does): it is skipped as encrypted, not as a file of the wrong format."""
    from msoffcrypto.format.ooxml import OOXMLFile

    originals = write_all(tmp_path / "originals")
    locked = tmp_path / "locked"
    locked.mkdir()
    for name in ("survey.docx", "results.pptx", "cities.xlsx"):
        with (originals / name).open("rb") as source, (locked / name).open("wb") as out:
            OOXMLFile(source).encrypt("secret", out)
    reasons = {item.id: getattr(item, "reason", None) for item in iter_source(locked)}
    assert reasons == {
        name: f"encrypted: the {name.rsplit('.', 1)[1].upper()} needs a password (save a copy "
        "without one)"
        for name in ("survey.docx", "results.pptx", "cities.xlsx")
    }


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"%PDF-1.7\n",
            b"PK\x03\x04",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            b"{\\rtf1",
            b"<html>",
        ]
    ),
    rest=st.binary(max_size=600),
    suffix=st.sampled_from(
        [
            ".doc",
            ".docx",
            ".docm",
            ".xls",
            ".xlsx",
            ".ppt",
            ".pptx",
            ".rtf",
            ".odt",
            ".pdf",
            ".epub",
            ".html",
            ".txt",
            ".db",
            "",
        ]
    ),
    in_memory=st.booleans(),
)
def test_any_bytes_behind_any_name_detect_as_a_format_or_a_reason(
    tmp_path_factory, prefix, rest, suffix, in_memory
):
    """Whatever a file's first bytes and name: a converter's format, None (text or binary), or
    :class:`Unconvertible` with a reason; never another exception."""
    from harrier.sources.convert import CONVERTERS, detect_format

    data = prefix + rest
    path = tmp_path_factory.mktemp("detect") / f"file{suffix}"
    path.write_bytes(data)
    try:
        found = detect_format(path, data[:8192], data if in_memory else None)
    except Unconvertible as exc:
        assert str(exc).split(": ", 1)[0] in {
            "not a " + suffix[1:].upper() + " file",
            "corrupt or truncated file",
            "encrypted",
        }
    else:
        assert found is None or found in CONVERTERS


def test_a_word_cell_merged_across_columns_is_read_once():
    """python-docx gives a merged cell once per column it spans; a cell merged down the rows
    stays in each row (its value applies to both)."""
    import docx

    from harrier.sources.convert.office import convert_docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "wide"
    table.cell(0, 2).merge(table.cell(1, 2)).text = "tall"
    table.cell(1, 0).text, table.cell(1, 1).text = "left", "right"
    stream = io.BytesIO()
    document.save(stream)
    stream.seek(0)
    assert list(convert_docx(stream).pieces) == ["wide | tall\nleft | right | tall"]


def test_opendocument_text_keeps_its_lines_and_nothing_outside_its_paragraphs(tmp_path):
    """docutils' ODT writer leaves each field name again as stray text after its paragraph
    (read once, not twice); a line break inside a paragraph (a code block) stays a line."""
    from odfdo import Document, LineBreak, Paragraph, Section

    from harrier.sources.convert.opendocument import convert_odt

    document = Document("text")
    section = Section(name="fields")
    field = Paragraph("title")
    field.tail = "title"
    section.append(field)
    code = Paragraph("[default]")
    code.append(LineBreak())
    code.append("region  =  us-west-2")
    section.append(code)
    document.body.append(section)
    document.save(tmp_path / "fields.odt")
    with (tmp_path / "fields.odt").open("rb") as stream:
        assert list(convert_odt(stream).pieces) == ["title", "[default]\nregion = us-west-2"]


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


DAMAGED = ("rivers.pdf", "survey.docx", "results.pptx", "cities.xlsx", "article.html", "tales.epub")
"""The files of ``write_all``, one of each converted format."""


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = write_all(tmp_path_factory.mktemp("originals"))
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def shared_converter():
    converter = FileConverter(timeout=30.0)
    yield converter
    converter.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(DAMAGED), edits=EDITS, keep=KEEP)
def test_damaged_documents_convert_or_skip_with_a_reason(
    originals, shared_converter, tmp_path_factory, name, edits, keep
):
    """Bytes changed, dropped or cut off in a file of each format: it becomes a document of
    storable text or a skip with its reason, and the worker goes on to the next file."""
    folder = tmp_path_factory.mktemp("damaged")
    (folder / name).write_bytes(damage(originals[name], edits, keep))
    [item] = iter_source(folder)
    check_converted_or_skipped(item, shared_converter)
    text, _, _ = shared_converter.convert(
        ConvertedFile("ok", write_pdf(folder / "ok.pdf"), "pdf", 0)
    )
    assert text == "\n\n".join(PDF_PAGES)  # the worker is still there for the next file
