"""PDF conversion next to embedding: pages/s that pypdf converts (in harrier's worker process)
and pages/s that the 270m shape embeds, on the same machine and the same pages.

Conversion runs in the reading stage, overlapped with embedding, so it slows ingestion only if
it is slower than embedding: the ratio (conversion pages/s over embedding pages/s) says by how
much it is faster.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import model_folder, table

_WORDS = (
    "river valley sediment flood delta estuary glacier current bank channel meander "
    "survey station sample laboratory report season water level rain basin"
).split()


def write_pdf(path: Path, pages: int, lines: int, seed: int = 0) -> None:
    """A PDF of ``pages`` pages of ``lines`` lines of random words each (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        for line in range(lines):
            pdf.drawString(40, 800 - 15 * line, " ".join(rng.choices(_WORDS, k=12)))
        pdf.showPage()
    pdf.save()


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--lines", type=int, default=45, help="lines of 12 words per page")
    parser.add_argument(
        "--embed-pages", type=int, default=20, help="pages embedded to measure the embedding rate"
    )
    parser.add_argument("--layers", type=int, default=2, help="layers of the 270m shape")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    import harrier
    from harrier.sources.convert import ConvertedFile, FileConverter

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "report.pdf"
        write_pdf(pdf, args.pages, args.lines)
        converter = FileConverter()
        try:
            converter.convert(ConvertedFile("warm", pdf, "pdf", 0))  # the worker's start
            started = time.perf_counter()
            text, _, pages = converter.convert(ConvertedFile("report", pdf, "pdf", 0))
            convert_s = time.perf_counter() - started
        finally:
            converter.close()
        folder = model_folder(Path(tmp), "harrier-270m", args.layers or None)
        embedder = harrier.Embedder.from_pretrained(folder, device=args.device)
        page_texts = [text[a:b] for a, b in zip(pages, [*pages[1:], len(text)], strict=True)]
        sample = page_texts[: args.embed_pages]
        embedder.embed_documents(sample[:2])  # warm-up
        started = time.perf_counter()
        embedder.embed_documents(sample)
        embed_s = time.perf_counter() - started
    tokens = sum(len(embedder.tokenizer(t)["input_ids"]) for t in sample)
    convert_rate, embed_rate = len(pages) / convert_s, len(sample) / embed_s
    rows: list[dict[str, object]] = [
        {
            "pages": len(pages),
            "tokens/page": round(tokens / len(sample)),
            "convert pages/s": round(convert_rate, 1),
            f"embed pages/s (270m, {args.layers or 'all'} layers, {args.device})": round(
                embed_rate, 1
            ),
            "embed tokens/s": round(tokens / embed_s),
            "ratio convert/embed": round(convert_rate / embed_rate, 1),
        }
    ]
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
