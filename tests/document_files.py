"""Real documents for tests, written by each format's own library, with known sentences."""

from __future__ import annotations

import random
from pathlib import Path

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
    return folder


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
