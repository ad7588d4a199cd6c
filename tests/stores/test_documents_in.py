"""Converted documents end to end: every format stored with its text, title, format and
source; PDF page numbers; HTML without its navigation; re-runs that convert nothing; bad files
skipped with a reason while what is stored stays."""

from __future__ import annotations

import os

import pytest

import harrier
from document_files import (
    DOCX_HEADING,
    DOCX_SENTENCES,
    EPUB_CHAPTERS,
    HTML_ARTICLE,
    HTML_CHROME,
    ODP_SLIDES,
    ODS_ROWS,
    ODT_HEADING,
    ODT_SENTENCES,
    PDF_PAGES,
    PPTX_SLIDES,
    RTF_SENTENCES,
    RTF_TITLE,
    html_page,
    needs_libreoffice,
    write_all,
    write_docx,
    write_encrypted_pdf,
    write_legacy,
    write_pdf,
)
from harrier.sources._documents import Skipped, SourceDocument, iter_source
from harrier.sources.convert import _worker

EXPECTED = {
    "rivers.pdf": ("pdf", "River forms", PDF_PAGES),
    "survey.docx": ("docx", DOCX_HEADING, DOCX_SENTENCES),
    "results.pptx": ("pptx", PPTX_SLIDES[0][0], [body for _, body in PPTX_SLIDES]),
    "cities.xlsx": ("xlsx", "cities", ["Lyon | 522250", "Nantes | 320732"]),
    "article.html": ("html", "How rivers shape valleys", HTML_ARTICLE),
    "tales.epub": ("epub", "Coastal tales", [s for _, s in EPUB_CHAPTERS]),
    "minutes.odt": ("odt", ODT_HEADING, [*ODT_SENTENCES, "for | against\n7 | 2"]),
    "flood.odp": ("odp", ODP_SLIDES[0][0], [s for slide in ODP_SLIDES for s in slide if s]),
    "lengths.ods": ("ods", "lengths", ["## Rivers\n" + "\n".join(" | ".join(r) for r in ODS_ROWS)]),
}
LEGACY_EXPECTED = {
    "survey.doc": ("doc", *EXPECTED["survey.docx"][1:]),
    "survey-2.doc": ("doc", *EXPECTED["survey.docx"][1:]),  # two: saved in one run
    "results.ppt": ("ppt", *EXPECTED["results.pptx"][1:]),
    "cities.xls": ("xls", *EXPECTED["cities.xlsx"][1:]),
    "notes.rtf": ("rtf", RTF_TITLE, RTF_SENTENCES),
}
one_store = pytest.mark.parametrize("open_store", ["qdrant"], indirect=True)


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The formats of every conversion the worker performs, in order."""
    calls: list[str] = []
    convert = _worker.ConversionWorker.convert

    def counted(self, fmt, source):  # type: ignore[no-untyped-def]
        calls.append(fmt)
        return convert(self, fmt, source)

    monkeypatch.setattr(_worker.ConversionWorker, "convert", counted)
    return calls


def test_every_format_is_stored_with_its_citation(open_store, qwen_engine, tmp_path):
    folder = write_all(tmp_path / "docs")
    store = open_store()
    report = harrier.ingest(folder, store, qwen_engine, max_tokens=12)
    assert (report.documents, report.skipped) == (len(EXPECTED), 0)
    _assert_cited(store, EXPECTED)
    article = " ".join(s.text for s in store.fetch_spans("article.html"))
    assert not [chrome for chrome in HTML_CHROME if chrome in article]


@one_store
@needs_libreoffice
def test_legacy_office_files_are_stored_with_their_citation(
    open_store, qwen_engine, tmp_path, conversions
):
    """Word, Excel and PowerPoint 97-2003 and RTF, through LibreOffice: stored as the modern
    files they were saved from are, slides as pages; a re-run converts none of them."""
    folder = write_legacy(tmp_path / "docs")
    (folder / "survey-2.doc").write_bytes((folder / "survey.doc").read_bytes())
    store = open_store()
    report = harrier.ingest(folder, store, qwen_engine, max_tokens=8)
    assert (report.documents, report.skipped) == (len(LEGACY_EXPECTED), 0)
    _assert_cited(store, LEGACY_EXPECTED)
    slides = store.fetch_spans("results.ppt")
    for page, (title, body) in enumerate(PPTX_SLIDES, start=1):
        on_page = "".join(s.text for s in slides if s.metadata["page_start"] == page)
        assert title in on_page and body in on_page
    conversions.clear()
    again = harrier.ingest(folder, store, qwen_engine, max_tokens=8)
    assert (again.unchanged, conversions) == (len(LEGACY_EXPECTED), [])


def _assert_cited(store, expected):  # type: ignore[no-untyped-def]
    """Each document's spans tile its text, hold its sentences and cite source, format, title."""
    for name, (fmt, title, sentences) in expected.items():
        spans = store.fetch_spans(name)
        text = "".join(s.text for s in spans)
        for sentence in sentences:
            assert sentence in text, (name, sentence)
        for span in spans:
            assert text[span.start : span.end] == span.text
            assert {k: span.metadata[k] for k in ("source", "format", "title")} == {
                "source": name,
                "format": fmt,
                "title": title,
            }


def test_pdf_spans_carry_their_pages(open_store, qwen_engine, tmp_path):
    pdf = write_pdf(tmp_path / "rivers.pdf", lines=3)
    store = open_store()
    harrier.ingest(pdf, store, qwen_engine, max_tokens=10)
    spans = store.fetch_spans("rivers.pdf")
    assert len(spans) > len(PDF_PAGES)
    full = "".join(s.text for s in spans)
    regions = [(full.index(line), full.rindex(line) + len(line)) for line in PDF_PAGES]
    for span in spans:  # the pages of its non-blank characters, found by each page's lines
        pages = {
            page
            for page, (low, high) in enumerate(regions, 1)
            for at in range(span.start, span.end)
            if low <= at < high and not full[at].isspace()
        }
        meta = span.metadata
        assert meta["pages"] == 3
        assert (meta["page_start"], meta["page_end"]) == (min(pages), max(pages)), span.text
    assert {s.metadata["page_start"] for s in spans} == {1, 2, 3}


@one_store
@pytest.mark.parametrize(
    ("name", "slides"), [("results.pptx", PPTX_SLIDES), ("flood.odp", ODP_SLIDES)]
)
def test_slides_are_pages_with_their_notes(open_store, qwen_engine, tmp_path, name, slides):
    write_all(tmp_path / "docs")
    store = open_store()
    harrier.ingest(tmp_path / "docs" / name, store, qwen_engine, max_tokens=8)
    spans = store.fetch_spans(name)
    for page, slide in enumerate(slides, start=1):
        on_page = "".join(s.text for s in spans if s.metadata["page_start"] == page)
        for line in filter(None, slide):
            assert line in on_page, (page, line)
    assert {s.metadata["pages"] for s in spans} == {len(slides)}


@one_store
def test_rerun_converts_nothing_and_a_change_converts_one(
    open_store, qwen_engine, tmp_path, conversions
):
    folder = write_all(tmp_path / "docs")
    store = open_store()
    harrier.ingest(folder, store, qwen_engine)
    assert sorted(conversions) == sorted(fmt for fmt, _, _ in EXPECTED.values())
    conversions.clear()
    again = harrier.ingest(folder, store, qwen_engine)
    assert (again.unchanged, again.spans_written, conversions) == (len(EXPECTED), 0, [])
    write_pdf(folder / "rivers.pdf", pages=["A new first page.", *PDF_PAGES[1:]])
    third = harrier.ingest(folder, store, qwen_engine)
    assert (third.unchanged, conversions) == (len(EXPECTED) - 1, ["pdf"])
    assert "A new first page." in store.fetch_spans("rivers.pdf")[0].text


@one_store
def test_a_new_revision_of_a_reading_converts_its_files_again(
    open_store, qwen_engine, tmp_path, conversions, monkeypatch
):
    """When harrier reads a format differently (a converter's ``revision``), the stored
    documents of that format are converted again, and only those."""
    import dataclasses

    from harrier.sources.convert import CONVERTERS

    folder = write_all(tmp_path / "docs")
    store = open_store()
    harrier.ingest(folder, store, qwen_engine)
    conversions.clear()
    revised = dataclasses.replace(CONVERTERS["docx"], revision=CONVERTERS["docx"].revision + 1)
    monkeypatch.setitem(CONVERTERS, "docx", revised)
    again = harrier.ingest(folder, store, qwen_engine)
    assert (again.unchanged, conversions) == (len(EXPECTED) - 1, ["docx"])


@one_store
def test_bad_files_are_skipped_and_nothing_stored_is_lost(
    open_store, qwen_engine, tmp_path, monkeypatch
):
    folder = write_all(tmp_path / "docs")
    store = open_store()
    harrier.ingest(folder, store, qwen_engine)
    before = {d: len(store.fetch_spans(d)) for d in store.iter_doc_ids()}
    write_encrypted_pdf(folder / "locked.pdf", folder / "rivers.pdf")
    write_docx(folder / "whole.docx")
    (folder / "truncated.docx").write_bytes((folder / "whole.docx").read_bytes()[:700])
    (folder / "whole.docx").unlink()
    with (folder / "renamed.docx").open("wb") as archive:
        import zipfile

        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("notes.txt", "just a zip")
    with (folder / "huge.html").open("w", encoding="utf-8") as huge:
        huge.write("<html><body>")
        for _ in range(50):
            huge.write("<p>" + "filler words " * 80_000 + "</p>")
    os.mkfifo(folder / "pipe.txt")
    write_pdf(folder / "vanishing.pdf")
    hash_input = harrier.sources.convert.ConvertedFile.hash_input

    def vanish_first(self):  # type: ignore[no-untyped-def]
        if self.id == "vanishing.pdf":
            self.path.unlink()  # gone between the folder listing and the read
        return hash_input(self)

    monkeypatch.setattr(harrier.sources.convert.ConvertedFile, "hash_input", vanish_first)
    report = harrier.ingest(folder, store, qwen_engine, prune=True)
    expected = {
        "locked.pdf": "encrypted",
        "truncated.docx": "corrupt or truncated file",
        "renamed.docx": "not a DOCX file",
        "huge.html": "too large to convert",
        "pipe.txt": "not a regular file",
        "vanishing.pdf": "cannot read",
    }
    formats = len(EXPECTED)
    assert (report.documents, report.unchanged, report.skipped) == (formats, formats, len(expected))
    assert {reason: group["examples"] for reason, group in report.skips.items()} == {
        reason: [name] for name, reason in expected.items()
    }
    assert {d: len(store.fetch_spans(d)) for d in store.iter_doc_ids()} == before


def test_html_chrome_pages_and_fragments(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "page.txt").write_text(html_page(), encoding="utf-8")  # detected by content
    (folder / "fragment.html").write_text("<p>Only a paragraph.</p>", encoding="utf-8")
    items = {i.id: i for i in harrier.sources._documents.iter_source(folder)}
    assert {i.id: i.format for i in items.values()} == {"page.txt": "html", "fragment.html": "html"}


def write_gzip_folder(folder):  # type: ignore[no-untyped-def]
    """Debian-style compressed files: text to read, and what must be skipped with a reason."""
    import gzip
    import io
    import tarfile

    folder.mkdir()
    texts = {
        "notes.txt.gz": "Rivers carry water from the hills to the sea.\nDeltas form there.\n",
        "changelog.Debian.gz": "bash (5.2.21-2) unstable; urgency=medium\n\n  * New upstream.\n",
    }
    for name, text in texts.items():
        (folder / name).write_bytes(gzip.compress(text.encode("utf-8")))
    (folder / "corrupt.gz").write_bytes(b"not gzip at all")
    whole = gzip.compress(b"a truncated stream of text\n" * 40)
    (folder / "truncated.txt.gz").write_bytes(whole[: len(whole) // 2])
    # 17 MiB of text in about 17 kB: over the 16 MiB default large_file_bytes
    (folder / "bomb.txt.gz").write_bytes(gzip.compress(b"a" * (17 * 2**20), compresslevel=9))
    (folder / "blob.gz").write_bytes(gzip.compress(b"\x00\x01\x02 binary"))
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as archive:
        info = tarfile.TarInfo("inside.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    (folder / "x.tar.gz").write_bytes(tar.getvalue())
    (folder / "x.pdf.gz").write_bytes(gzip.compress(b"%PDF-1.4 not read"))
    (folder / "page.gz").write_bytes(gzip.compress(html_page().encode("utf-8")))
    skips = {
        "corrupt.gz": "corrupt gzip file",
        "truncated.txt.gz": "corrupt gzip file",
        "bomb.txt.gz": "too large decompressed",
        "blob.gz": "binary file once decompressed",
        "x.tar.gz": "compressed archive",
        "x.pdf.gz": "compressed PDF file",
        "page.gz": "compressed HTML file",
    }
    return texts, skips


def test_gzip_compressed_text_files_are_read_decompressed(tmp_path):
    """A ``.gz`` whose inner name would be read as text is decompressed and checked like a text
    file; a corrupt one, a gzip bomb (skipped before it is decompressed past the limit), a
    compressed binary, archive or document to convert are skipped with their reason."""
    texts, skips = write_gzip_folder(tmp_path / "doc")
    items = {i.id: i for i in iter_source(tmp_path / "doc")}
    read = {i.id: i.text for i in items.values() if isinstance(i, SourceDocument)}
    assert read == texts
    reasons = {i.id: i.reason for i in items.values() if isinstance(i, Skipped)}
    assert {name: reason.partition(": ")[0] for name, reason in reasons.items()} == skips
    assert "large_file_bytes" in reasons["bomb.txt.gz"]
    # a lower limit applies to the decompressed size, not the compressed one
    [small] = iter_source(tmp_path / "doc" / "notes.txt.gz", large_file_bytes=20)
    assert isinstance(small, Skipped)
    assert small.reason.startswith("too large decompressed: over 20 bytes")


@one_store
def test_gzip_text_is_stored_and_a_rerun_reads_it_unchanged(open_store, qwen_engine, tmp_path):
    texts, skips = write_gzip_folder(tmp_path / "doc")
    store = open_store()
    report = harrier.ingest(tmp_path / "doc", store, qwen_engine)
    assert (report.documents, report.skipped) == (len(texts), len(skips))
    for name, text in texts.items():
        spans = store.fetch_spans(name)
        assert spans and all(text[s.start : s.end] == s.text for s in spans)
        assert spans[0].metadata["source"] == name
        assert "".join(s.text for s in spans).split() == text.split()
    again = harrier.ingest(tmp_path / "doc", store, qwen_engine)
    assert (again.unchanged, again.spans_written) == (len(texts), 0)
