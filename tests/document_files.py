"""Real documents for tests, written by each format's own library, with known sentences."""

from __future__ import annotations

import random
import subprocess
import tempfile
from pathlib import Path

import pytest

from harrier.sources.convert import _soffice

PDF_PAGES = [
    "Glaciers carve deep valleys into the mountain rock.",
    "Deltas form where slow rivers drop their sand.",
    "Estuaries mix fresh river water with the salty sea.",
]
DOCX_HEADING = "Annual river survey"
DOCX_SENTENCES = [
    "The northern station measured record floods in April.",
    "Sediment samples were sent to the laboratory.",
]
PPTX_SLIDES = [
    ("Quarterly results", "Revenue grew in every region this quarter."),
    ("Next steps", "We will open two new offices in spring."),
]
XLSX_ROWS = [("city", "population"), ("Lyon", 522250), ("Nantes", 320732)]
HTML_ARTICLE = [
    "Meanders form where the current erodes the outer bank of the river.",
    "Oxbow lakes remain when a meander is cut off from the main channel.",
]
HTML_CHROME = ["Shop catalogue", "Subscribe newsletter", "Copyright Example Media"]
ODT_HEADING = "Meeting minutes"
ODT_SENTENCES = [
    "The council approved the new bridge over the river.",
    "Work on the northern bank starts in May.",
]
ODP_SLIDES = [
    ("Flood plan", "Sandbags are stored at the fire station.", "Mention the volunteers."),
    ("Contacts", "Call the harbour office before noon.", ""),
]
ODS_ROWS = [("river", "length"), ("Loire", "1006"), ("Rhone", "813")]
RTF_TITLE = "Harbour notes"
RTF_HEADING = "Harbour inspection"
RTF_SENTENCES = [
    "The café on the quay reopened in May.",
    "Cranes — two of them — were repainted.",
]
needs_libreoffice = pytest.mark.skipif(
    _soffice.program() is None,
    reason="LibreOffice (soffice) is not installed: .ci/run installs it (apt install "
    "libreoffice-nogui)",
)
LEGACY = {"survey.doc": "survey.docx", "results.ppt": "results.pptx", "cities.xls": "cities.xlsx"}
"""Office 97-2003 files, each saved by LibreOffice from the modern file of ``write_all``."""
EPUB_CHAPTERS = [
    ("The lighthouse", "The keeper climbed the spiral stairs every evening."),
    ("The storm", "Waves broke over the rocks until the morning came."),
]


def write_pdf(path: Path, pages: list[str] | None = None, lines: int = 1) -> Path:
    """A PDF with one known sentence on each page (reportlab), ``lines`` times per page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("River forms")
    for sentence in pages or PDF_PAGES:
        for line in range(lines):
            pdf.drawString(50, 800 - 16 * line, sentence)
        pdf.showPage()
    pdf.save()
    return path


def write_encrypted_pdf(path: Path, source: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as stream:
        writer.write(stream)
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(DOCX_HEADING, level=1)
    document.add_paragraph(DOCX_SENTENCES[0])
    document.add_heading("Methods", level=2)
    document.add_paragraph(DOCX_SENTENCES[1])
    document.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for title, body in PPTX_SLIDES:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cities"
    for row in XLSX_ROWS:
        sheet.append(list(row))
    book.save(str(path))
    return path


def write_odt(path: Path) -> Path:
    """A LibreOffice text: a heading, a paragraph, a list item, a table, a paragraph."""
    from odfdo import Document, Header, List, ListItem, Paragraph, Table

    document = Document("text")
    body = document.body
    body.append(Header(1, ODT_HEADING))
    body.append(Paragraph(ODT_SENTENCES[0]))
    listing = List()
    listing.append(ListItem("Agenda item: budget"))
    body.append(listing)
    table = Table("Votes", width=2, height=2)
    for (x, y), value in {(0, 0): "for", (1, 0): "against", (0, 1): "7", (1, 1): "2"}.items():
        table.set_value((x, y), value)
    body.append(table)
    body.append(Paragraph(ODT_SENTENCES[1]))
    document.save(path)
    return path


def write_odp(path: Path) -> Path:
    """A LibreOffice presentation: a title frame and a text frame per slide, and notes."""
    from odfdo import Document, DrawPage, Element, Frame

    document = Document("presentation")
    document.meta.title = ""  # the template's title is "presentation"
    for page in document.body.get_draw_pages():  # and it holds an empty first slide
        document.body.delete(page)
    for number, (title, text, notes) in enumerate(ODP_SLIDES, start=1):
        page = DrawPage(f"page{number}", name=f"Slide {number}")
        heading = Frame.text_frame(title, size=("20cm", "2cm"), position=("1cm", "1cm"))
        heading.set_attribute("presentation:class", "title")
        page.append(heading)
        page.append(Frame.text_frame(text, size=("20cm", "8cm"), position=("1cm", "4cm")))
        if notes:
            speaker = Element.from_tag("<presentation:notes/>")
            speaker.append(Frame.text_frame(notes, size=("20cm", "8cm"), position=("1cm", "1cm")))
            page.append(speaker)
        document.body.append(page)
    document.save(path)
    return path


def write_ods(path: Path) -> Path:
    """A LibreOffice spreadsheet: one sheet of rows, then a million styled blank rows."""
    from odfdo import Document, Element, Table

    document = Document("spreadsheet")
    for sheet in document.body.get_tables():  # the template's empty first sheet
        document.body.delete(sheet)
    sheet = Table("Rivers")
    for y, row in enumerate(ODS_ROWS):
        for x, value in enumerate(row):
            sheet.set_value((x, y), value)
    blank = Element.from_tag('<table:table-row table:number-rows-repeated="1048000"/>')
    blank.append(Element.from_tag("<table:table-cell/>"))
    sheet.append(blank)
    document.body.append(sheet)
    document.save(path)
    return path


def html_page() -> str:
    """An article between a navigation bar, a sidebar and a footer."""
    nav = "".join(f'<li><a href="/{i}">{w}</a></li>' for i, w in enumerate(HTML_CHROME[:2]))
    paragraphs = "".join(f"<p>{s}</p>" for s in HTML_ARTICLE)
    return (
        f"<!DOCTYPE html><html><head><title>Rivers</title></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>How rivers shape valleys</h1>{paragraphs}</article></main>"
        f"<footer><p>{HTML_CHROME[2]} 2026. All rights reserved.</p></footer></body></html>"
    )


def write_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("harrier-test-book")
    book.set_title("Coastal tales")
    book.set_language("en")
    chapters = []
    for number, (title, sentence) in enumerate(EPUB_CHAPTERS, start=1):
        chapter = epub.EpubHtml(title=title, file_name=f"chap{number}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{title}</h1><p>{sentence}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = chapters
    epub.write_epub(str(path), book)
    return path


def write_all(folder: Path) -> Path:
    """One file of every converted format in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "rivers.pdf")
    write_docx(folder / "survey.docx")
    write_pptx(folder / "results.pptx")
    write_xlsx(folder / "cities.xlsx")
    (folder / "article.html").write_text(html_page(), encoding="utf-8")
    write_epub(folder / "tales.epub")
    write_odt(folder / "minutes.odt")
    write_odp(folder / "flood.odp")
    write_ods(folder / "lengths.ods")
    return folder


def write_rtf(path: Path) -> Path:
    """An RTF file written by hand: a title, a heading style, and non-ASCII as \\u escapes."""
    body = "".join(
        rf"\pard\plain\s0 {_rtf_escape(sentence)}\par" + "\n" for sentence in RTF_SENTENCES
    )
    path.write_text(
        "{\\rtf1\\ansi\\ansicpg1252\\deff0\n"
        "{\\fonttbl{\\f0\\froman Times New Roman;}}\n"
        "{\\stylesheet{\\s0 Normal;}{\\s1\\outlinelevel0 heading 1;}}\n"
        f"{{\\info{{\\title {RTF_TITLE}}}}}\n"
        f"\\pard\\plain\\s1\\outlinelevel0 {RTF_HEADING}\\par\n{body}}}\n",
        encoding="ascii",
    )
    return path


def _rtf_escape(text: str) -> str:
    return "".join(c if ord(c) < 128 else rf"\u{ord(c)}?" for c in text)


def write_legacy(folder: Path) -> Path:
    """The :data:`LEGACY` files and an RTF file in ``folder``: the modern files of
    ``write_all`` saved as Office 97-2003 by LibreOffice (``soffice``, which must be installed)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        modern = write_all(Path(work, "modern"))
        for legacy, original in LEGACY.items():
            save_with_libreoffice(modern / original, Path(legacy).suffix[1:], folder)
    write_rtf(folder / "notes.rtf")
    return folder


def save_with_libreoffice(source: Path, target: str, folder: Path) -> Path:
    """``source`` saved by LibreOffice in ``folder`` as ``target`` (an extension, or
    ``extension:export filter``)."""
    program = _soffice.program()
    assert program is not None, "LibreOffice is not installed"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                program,
                "--headless",
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--convert-to",
                target,
                "--outdir",
                str(folder),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    saved = folder / f"{source.stem}.{target.split(':')[0]}"
    assert saved.is_file(), f"LibreOffice did not save {saved}"
    return saved


def mixed_text(chars: int, seed: int = 0) -> str:
    """``chars`` characters of random words, CJK, emoji, accents, newlines and paragraphs."""
    rng = random.Random(seed)
    words = ["rivers", "carry", "water", "to", "the", "sea.", "机器学习", "🙂", "énergie", "\n"]
    parts, size = [], 0
    while size < chars:
        word = rng.choice(words) + rng.choice([" ", " ", " ", "\n\n"])
        parts.append(word)
        size += len(word)
    return "".join(parts)[:chars]
