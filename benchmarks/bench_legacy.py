"""Legacy Office conversion: Word 97-2003 files through LibreOffice, each in a run of its own
against runs of up to ``legacy.BATCH`` (``FileConverter.prefetch``, as ingestion does), on the
same files in the same run; the texts must be equal.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_convert import _WORDS


def write_docs(folder: Path, files: int, paragraphs: int, seed: int = 0) -> list[Path]:
    """``files`` copies of one Word 97-2003 file of ``paragraphs`` paragraphs, saved by
    LibreOffice from a DOCX that python-docx wrote."""
    import docx

    from harrier.sources.convert import _soffice

    rng = random.Random(seed)
    document = docx.Document()
    document.add_heading("Field report", level=1)
    for _ in range(paragraphs):
        document.add_paragraph(" ".join(rng.choices(_WORDS, k=40)) + ".")
    document.save(folder / "report.docx")
    subprocess.run(
        [
            str(_soffice.program()),
            "--headless",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--convert-to",
            "doc",
            "--outdir",
            str(folder),
            str(folder / "report.docx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    copies = folder / "docs"
    copies.mkdir()
    for n in range(files):
        shutil.copyfile(folder / "report.doc", copies / f"report-{n}.doc")
    return sorted(copies.iterdir())


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--paragraphs", type=int, default=40, help="of 40 words each")
    args = parser.parse_args(argv)

    from harrier.sources._documents import iter_source
    from harrier.sources.convert import ConvertedFile, FileConverter, _soffice

    if _soffice.program() is None:
        return [{"skipped": "LibreOffice (soffice) is not installed"}]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_docs(Path(tmp), args.files, args.paragraphs)
        items = [item for path in paths for item in iter_source(path)]
        assert all(isinstance(item, ConvertedFile) for item in items)
        files = [item for item in items if isinstance(item, ConvertedFile)]
        timings, texts = {}, {}
        for way in ("one run per file", "batched"):
            converter = FileConverter()
            try:
                converter.convert(files[0])  # the worker's start and LibreOffice's profile
                started = time.perf_counter()
                if way == "batched":
                    converter.prefetch(files)
                texts[way] = [converter.convert(file)[0] for file in files]
                timings[way] = time.perf_counter() - started
            finally:
                converter.close()
    assert texts["batched"] == texts["one run per file"], "batched texts differ"
    single, batched = timings["one run per file"], timings["batched"]
    return [
        {
            "files": len(files),
            "chars/file": len(texts["batched"][0]),
            "one run per file s": round(single, 2),
            "batched s": round(batched, 2),
            "files/s batched": round(len(files) / batched, 1),
            "batched / per file": f"{single / batched:.1f}x",
        }
    ]


if __name__ == "__main__":
    from _common import table

    print(table(main()))
