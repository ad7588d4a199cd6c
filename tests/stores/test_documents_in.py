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
    PDF_PAGES,
    PPTX_SLIDES,
    html_page,
    write_all,
    write_docx,
    write_encrypted_pdf,
    write_pdf,
)
from harrier.sources.convert import _worker

EXPECTED = {
    "rivers.pdf": ("pdf", "River forms", PDF_PAGES),
    "survey.docx": ("docx", DOCX_HEADING, DOCX_SENTENCES),
    "results.pptx": ("pptx", PPTX_SLIDES[0][0], [body for _, body in PPTX_SLIDES]),
    "cities.xlsx": ("xlsx", "cities", ["Lyon | 522250", "Nantes | 320732"]),
    "article.html": ("html", "How rivers shape valleys", HTML_ARTICLE),
    "tales.epub": ("epub", "Coastal tales", [s for _, s in EPUB_CHAPTERS]),
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
    assert (report.documents, report.skipped) == (6, 0)
    for name, (fmt, title, sentences) in EXPECTED.items():
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
    article = " ".join(s.text for s in store.fetch_spans("article.html"))
    assert not [chrome for chrome in HTML_CHROME if chrome in article]


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
def test_rerun_converts_nothing_and_a_change_converts_one(
    open_store, qwen_engine, tmp_path, conversions
):
    folder = write_all(tmp_path / "docs")
    store = open_store()
    harrier.ingest(folder, store, qwen_engine)
    assert sorted(conversions) == sorted(fmt for fmt, _, _ in EXPECTED.values())
    conversions.clear()
    again = harrier.ingest(folder, store, qwen_engine)
    assert (again.unchanged, again.spans_written, conversions) == (6, 0, [])
    write_pdf(folder / "rivers.pdf", pages=["A new first page.", *PDF_PAGES[1:]])
    third = harrier.ingest(folder, store, qwen_engine)
    assert (third.unchanged, conversions) == (5, ["pdf"])
    assert "A new first page." in store.fetch_spans("rivers.pdf")[0].text


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
    assert (report.documents, report.unchanged, report.skipped) == (6, 6, len(expected))
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
