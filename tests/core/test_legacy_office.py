"""Legacy Office files (``.doc``, ``.xls``, ``.ppt``) and RTF, converted by LibreOffice: the
same text as the modern files they were saved from, read by what they hold, skipped with a
reason where LibreOffice is missing or the file is damaged, and LibreOffice ended with a
conversion that runs past its time limit."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from document_files import (
    DOCX_SENTENCES,
    LEGACY,
    RTF_HEADING,
    RTF_SENTENCES,
    RTF_TITLE,
    needs_libreoffice,
    write_all,
    write_docx,
    write_legacy,
    write_rtf,
)
from harrier.sources._documents import Skipped, SourceDocument, iter_source
from harrier.sources._validation import storage_problem
from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible, _soffice

_OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _soffice.program() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return write_legacy(tmp_path_factory.mktemp("legacy"))


@pytest.fixture(scope="module")
def converter():  # type: ignore[no-untyped-def]
    converter = FileConverter(timeout=120.0)
    yield converter
    converter.close()


def _convert(converter: FileConverter, folder: Path, name: str):  # type: ignore[no-untyped-def]
    [item] = iter_source(folder / name)
    assert isinstance(item, ConvertedFile), item
    return item, converter.convert(item)


@needs_libreoffice
def test_legacy_files_read_as_the_files_they_were_saved_from(legacy, converter, tmp_path):
    modern = write_all(tmp_path / "modern")
    for old, new in LEGACY.items():
        item, (text, metadata, pages) = _convert(converter, legacy, old)
        _, (expected, expected_metadata, expected_pages) = _convert(converter, modern, new)
        assert item.format == old.rsplit(".", 1)[1] == metadata["format"]
        assert (text, pages) == (expected, expected_pages), old
        assert metadata["title"] == expected_metadata["title"]
    text = _convert(converter, legacy, "survey.doc")[1][0]
    assert all(sentence in text for sentence in DOCX_SENTENCES)


@needs_libreoffice
@pytest.mark.parametrize("name", ["notes.rtf", "notes.doc", "notes.txt"])
def test_rtf_is_read_as_its_text_never_as_its_markup(converter, tmp_path, name):
    """Word saves RTF under ``.doc`` too; an RTF file is RTF by its first bytes, whatever its
    name (before, a ``.rtf`` or ``.txt`` file was embedded as its markup)."""
    write_rtf(tmp_path / name)
    item, (text, metadata, _) = _convert(converter, tmp_path, name)
    assert item.format == "rtf"
    assert text == "\n\n".join([f"# {RTF_HEADING}", *RTF_SENTENCES])
    assert metadata["title"] == RTF_TITLE


@needs_libreoffice
def test_a_doc_holding_a_docx_is_read_as_a_docx(converter, tmp_path):
    (tmp_path / "survey.doc").write_bytes(write_docx(tmp_path / "survey.docx").read_bytes())
    item, (text, _, _) = _convert(converter, tmp_path, "survey.doc")
    assert item.format == "docx" and DOCX_SENTENCES[0] in text


@needs_libreoffice
def test_a_damaged_legacy_file_is_skipped_and_the_next_converts(legacy, converter, tmp_path):
    good = (legacy / "survey.doc").read_bytes()
    (tmp_path / "random.doc").write_bytes(_OLE_HEADER + os.urandom(4000))  # not text, either
    (tmp_path / "cut.doc").write_bytes(good[: len(good) // 2])
    (tmp_path / "sheet.doc").write_bytes((legacy / "cities.xls").read_bytes())
    for name in ("random.doc", "cut.doc", "sheet.doc"):
        [item] = iter_source(tmp_path / name)
        assert isinstance(item, ConvertedFile)
        with pytest.raises(Unconvertible, match=r"^conversion failed: LibreOffice could not"):
            converter.convert(item)
    assert DOCX_SENTENCES[0] in _convert(converter, legacy, "survey.doc")[1][0]


@needs_libreoffice
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["survey.doc", "cities.xls", "results.ppt", "notes.rtf"]),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=4)),
        min_size=1,
        max_size=4,
    ),
    keep=st.one_of(st.just(1.0), st.floats(0.05, 1)),
)
def test_damaged_legacy_files_convert_or_skip_with_a_reason(
    legacy, converter, tmp_path_factory, name, edits, keep
):
    """Bytes changed, dropped or cut off: storable text or a skip with its reason, whatever
    LibreOffice makes of them, and the worker goes on to the next file."""
    data = bytearray((legacy / name).read_bytes())
    for where, replacement in edits:
        at = int(where * len(data))
        data[at : at + 1] = replacement
    folder = tmp_path_factory.mktemp("damaged")
    (folder / name).write_bytes(bytes(data[: max(1, int(keep * len(data)))]))
    [item] = iter_source(folder)
    if isinstance(item, ConvertedFile):
        try:
            text, metadata, pages = converter.convert(item)
        except Unconvertible as exc:
            assert str(exc)
        else:
            assert storage_problem(item.id, text, metadata) is None
            assert list(pages) == sorted(pages) and all(0 <= p <= len(text) for p in pages)
    else:  # a damaged header: no longer that format
        assert isinstance(item, (Skipped, SourceDocument)), item
    assert RTF_SENTENCES[0] in _convert(converter, legacy, "notes.rtf")[1][0]


def test_without_libreoffice_they_are_skipped_saying_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(_soffice, "program", lambda: None)
    (tmp_path / "old.doc").write_bytes(_OLE_HEADER + bytes(504))
    (tmp_path / "old.ppt").write_bytes(_OLE_HEADER + bytes(504))
    write_rtf(tmp_path / "notes.txt")
    reasons = {item.id: getattr(item, "reason", None) for item in iter_source(tmp_path)}
    install = "install LibreOffice (apt install libreoffice-nogui, brew install --cask"
    assert reasons.keys() == {"old.doc", "old.ppt", "notes.txt"}
    for name, (fmt, modern) in {
        "old.doc": ("DOC", "DOCX"),
        "old.ppt": ("PPT", "PPTX"),
        "notes.txt": ("RTF", "DOCX"),
    }.items():
        reason = reasons[name]
        assert reason is not None and reason.startswith(f"needs LibreOffice to read {fmt} files: ")
        assert install in reason and reason.endswith(f"or save the file as {modern}")


def test_an_ole_file_that_is_no_office_document_stays_a_binary_skip(tmp_path):
    (tmp_path / "Thumbs.db").write_bytes(_OLE_HEADER + bytes(504))
    [item] = iter_source(tmp_path)
    assert isinstance(item, Skipped) and item.reason.startswith("binary file")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_conversion_past_its_time_limit_ends_libreoffice_with_it(tmp_path, monkeypatch):
    """What the converter started (here a stand-in ``soffice`` that hangs) dies with it: no
    LibreOffice is left running after a timeout."""
    bin_dir, pid_file = tmp_path / "bin", tmp_path / "soffice.pid"
    bin_dir.mkdir()
    hanging = bin_dir / "soffice"
    hanging.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shutil.which("soffice") == str(hanging)
    write_rtf(tmp_path / "notes.rtf")
    converter = FileConverter(timeout=5.0)
    try:
        with pytest.raises(Unconvertible, match="conversion timed out"):
            converter.convert(ConvertedFile("notes.rtf", tmp_path / "notes.rtf", "rtf", 0))
    finally:
        converter.close()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # SIGKILL was sent: only its delivery is awaited
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _gone(pid), f"the hung soffice (pid {pid}) still runs"


def _gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie, for its parent to collect)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
