"""Legacy Office files (``.doc``, ``.xls``, ``.ppt``) and RTF, converted by LibreOffice: the
same text as the modern files they were saved from, read by what they hold, skipped with a
reason where LibreOffice is missing or the file is damaged, and LibreOffice ended with a
conversion that runs past its time limit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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
    save_with_libreoffice,
    write_all,
    write_docx,
    write_legacy,
    write_rtf,
)
from harrier.sources._documents import Skipped, iter_source
from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible, _soffice
from harrier.sources.convert._protection import is_encrypted
from harrier.testing.converter_contract import EDITS, KEEP, check_converted_or_skipped, damage

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
def test_templates_and_shows_read_as_their_documents(converter, tmp_path):
    modern = write_all(tmp_path / "modern")
    old = tmp_path / "old"
    old.mkdir()
    for original, target in [
        ("survey.docx", "dot:MS Word 97 Vorlage"),
        ("cities.xlsx", "xlt:MS Excel 97 Vorlage/Template"),
        ("results.pptx", "pps:MS PowerPoint 97 AutoPlay"),
    ]:
        saved = save_with_libreoffice(modern / original, target, old)
        item, (text, _, pages) = _convert(converter, old, saved.name)
        _, (expected, _, expected_pages) = _convert(converter, modern, original)
        assert (item.format, text, pages) == (
            {"dot": "doc", "xlt": "xls", "pps": "ppt"}[target[:3]],
            expected,
            expected_pages,
        )


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
def test_a_doc_holding_a_docx_is_read_as_a_docx_and_the_reverse(legacy, converter, tmp_path):
    (tmp_path / "survey.doc").write_bytes(write_docx(tmp_path / "survey.docx").read_bytes())
    item, (text, _, _) = _convert(converter, tmp_path, "survey.doc")
    assert item.format == "docx" and DOCX_SENTENCES[0] in text
    (tmp_path / "old.docx").write_bytes((legacy / "survey.doc").read_bytes())  # misnamed
    item, (text, _, _) = _convert(converter, tmp_path, "old.docx")
    assert item.format == "doc" and text == _convert(converter, legacy, "survey.doc")[1][0]


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


ENCRYPTED = Path(__file__).parent / "data" / "encrypted"  # saved by Office: README.md there


@needs_libreoffice
def test_password_protected_legacy_files_are_skipped_as_encrypted(legacy, converter, tmp_path):
    """Office's own password-protected .doc, .xls and .ppt: LibreOffice cannot read them, and
    the skip says why (they are not damaged); the next file converts. Files without a
    password carry no mark."""
    for name in ("survey.doc", "cities.xls", "results.ppt"):
        assert not is_encrypted(name[-3:], legacy / name)
    for fmt in ("doc", "xls", "ppt"):
        [item] = iter_source(ENCRYPTED / f"encrypted.{fmt}")
        assert isinstance(item, ConvertedFile)
        reason = f"encrypted: the {fmt.upper()} needs a password (save a copy without one)"
        with pytest.raises(Unconvertible, match=re.escape(reason)):
            converter.convert(item)
    write_rtf(tmp_path / "notes.rtf")
    assert RTF_SENTENCES[0] in converter.convert(_item(tmp_path, "notes.rtf"))[0]


@settings(max_examples=40, deadline=None)
@given(fmt=st.sampled_from(["doc", "xls", "ppt"]), edits=EDITS, keep=KEEP)
def test_reading_the_password_marks_of_damaged_files_never_fails(fmt, edits, keep):
    data = damage((ENCRYPTED / f"encrypted.{fmt}").read_bytes(), edits, keep)
    assert is_encrypted(fmt, data) in (True, False)


@needs_libreoffice
def test_an_excel_4_sheet_is_read(converter):
    """Excel 2.x-4.x wrote a bare BIFF stream, not an OLE2 file: known by its first record
    behind .xls, and read by LibreOffice as the later ones are (a sheet from xlrd's tests)."""
    sheet = Path(__file__).parent / "data" / "biff4" / "sheet.xls"
    [item] = iter_source(sheet)
    assert isinstance(item, ConvertedFile) and item.format == "xls"
    text, metadata, _ = converter.convert(item)
    assert text.startswith("## Sheet1\nID | TOTAL | MAIN | SUB\nA | DOG & CAT PRODUCTS |")
    assert "\nB | BIRD PRODUCTS | Bird Product\n" in text and metadata["format"] == "xls"


def test_the_password_marks_are_read_from_each_format():
    """The flag, record or stream each format marks encryption with, in the file or its bytes;
    other bytes behind an OLE2 header, and another format's mark, are not taken for it."""
    for fmt in ("doc", "xls", "ppt"):
        data = (ENCRYPTED / f"encrypted.{fmt}").read_bytes()
        assert is_encrypted(fmt, data) and is_encrypted(fmt, ENCRYPTED / f"encrypted.{fmt}")
        assert not is_encrypted(fmt, _OLE_HEADER + os.urandom(2000))
    assert not is_encrypted("xls", (ENCRYPTED / "encrypted.doc").read_bytes())  # not its mark


@needs_libreoffice
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["survey.doc", "cities.xls", "results.ppt", "notes.rtf"]),
    edits=EDITS,
    keep=KEEP,
)
def test_damaged_legacy_files_convert_or_skip_with_a_reason(
    legacy, converter, tmp_path_factory, name, edits, keep
):
    """Bytes changed, dropped or cut off: storable text or a skip with its reason, whatever
    LibreOffice makes of them, and the worker goes on to the next file."""
    folder = tmp_path_factory.mktemp("damaged")
    (folder / name).write_bytes(damage((legacy / name).read_bytes(), edits, keep))
    [item] = iter_source(folder)
    check_converted_or_skipped(item, converter)
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


def stand_in(folder: Path, monkeypatch: pytest.MonkeyPatch, *, hang: str) -> Path:
    """A ``soffice`` first on PATH that logs each run (``PID ARGS``) to the file it returns,
    then hangs where the shell test ``hang`` holds (``$n``: the files it was given), else runs
    the real LibreOffice (or, if there is none, hangs too); ``--version`` answers at once."""
    real = _soffice.program() or "/nonexistent"
    folder.mkdir()
    log, program = folder / "runs.log", folder / "soffice"
    program.write_text(
        f'#!/bin/sh\necho "$$ $*" >> {log}\n'
        'if [ "$1" = --version ]; then echo "LibreOffice 0.0 (stand-in)"; exit 0; fi\nn=0\n'
        'for a in "$@"; do case "$a" in *.doc|*.xls|*.ppt|*.rtf) n=$((n+1));; esac; done\n'
        f'if {hang} || [ ! -x {real} ]; then exec sleep 300; fi\nexec {real} "$@"\n'
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shutil.which("soffice") == str(program)
    return log


def conversion_runs(log: Path) -> list[tuple[int, int]]:
    """``(pid, files)`` of each conversion run in a stand-in's log."""
    runs = [line.split(" ", 1) for line in log.read_text().splitlines() if "--convert-to" in line]
    return [(int(pid), len(re.findall(r"\.(?:doc|xls|ppt|rtf)\b", args))) for pid, args in runs]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_conversion_past_its_time_limit_ends_libreoffice_with_it(tmp_path, monkeypatch):
    """What the converter started (here a stand-in ``soffice`` that hangs) dies with it: no
    LibreOffice is left running after a timeout, and no temporary file (the document's copy
    among them) is left behind."""
    log = stand_in(tmp_path / "bin", monkeypatch, hang="true")
    write_rtf(tmp_path / "notes.rtf")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # for the worker process
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # for this one
    converter = FileConverter(timeout=5.0)
    try:
        with pytest.raises(Unconvertible, match="conversion timed out"):
            converter.convert(ConvertedFile("notes.rtf", tmp_path / "notes.rtf", "rtf", 0))
        assert list(temporary.iterdir()) == []  # removed with the killed child
    finally:
        converter.close()
    [(pid, _)] = conversion_runs(log)
    _assert_ends(pid)


@needs_libreoffice
def test_the_legacy_files_of_a_group_are_saved_in_one_run(legacy, tmp_path, monkeypatch):
    """Two or more files of a format are saved by one run of LibreOffice (it takes a second
    to start), to the same text as each alone; a file that run cannot read converts alone and
    is skipped with its reason, and a file alone of its format never waits for a batch."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(3):
        shutil.copyfile(legacy / "survey.doc", folder / f"survey-{n}.doc")
        shutil.copyfile(legacy / "cities.xls", folder / f"cities-{n}.xls")
    (folder / "random.doc").write_bytes(_OLE_HEADER + os.urandom(4000))
    shutil.copyfile(legacy / "results.ppt", folder / "results.ppt")
    alone = FileConverter(timeout=120.0)
    try:
        expected = {
            name: alone.convert(_item(legacy, name))[0] for name in ("survey.doc", "cities.xls")
        }
    finally:
        alone.close()
    log = stand_in(tmp_path / "bin", monkeypatch, hang="false")
    items = list(iter_source(folder))
    converter = FileConverter(timeout=120.0)
    try:
        converter.prefetch(item for item in items if isinstance(item, ConvertedFile))
        assert sorted(files for _, files in conversion_runs(log)) == [3, 4]  # xls, doc
        texts = {}
        for item in items:
            try:
                texts[item.id] = converter.convert(item)[0]
            except Unconvertible as exc:
                texts[item.id] = str(exc)
    finally:
        converter.close()
    assert sorted(files for _, files in conversion_runs(log)) == [1, 1, 3, 4]  # random, ppt
    for n in range(3):
        assert texts[f"survey-{n}.doc"] == expected["survey.doc"]
        assert texts[f"cities-{n}.xls"] == expected["cities.xls"]
    assert texts["random.doc"].startswith("conversion failed: LibreOffice could not read it")
    assert "Quarterly results" in texts["results.ppt"]


@needs_libreoffice
def test_a_large_legacy_file_is_saved_in_a_run_of_its_own(legacy, tmp_path, monkeypatch):
    from harrier.sources.convert import legacy as converting

    monkeypatch.setattr(converting, "BATCH_FILE_BYTES", (legacy / "survey.doc").stat().st_size - 1)
    log = stand_in(tmp_path / "bin", monkeypatch, hang="false")
    for n in range(2):
        shutil.copyfile(legacy / "survey.doc", tmp_path / f"survey-{n}.doc")
    files = [_item(tmp_path, f"survey-{n}.doc") for n in range(2)]
    converter = FileConverter(timeout=120.0)
    try:
        converter.prefetch(files)
        assert not log.exists()  # no run for them together
        assert all(DOCX_SENTENCES[0] in converter.convert(file)[0] for file in files)
    finally:
        converter.close()
    assert [count for _, count in conversion_runs(log)] == [1, 1]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
@needs_libreoffice
def test_a_batch_past_the_time_limit_is_killed_and_its_files_convert_alone(
    legacy, tmp_path, monkeypatch, caplog
):
    log = stand_in(tmp_path / "bin", monkeypatch, hang='[ "$n" -gt 1 ]')
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(2):
        shutil.copyfile(legacy / "survey.doc", folder / f"survey-{n}.doc")
    items = list(iter_source(folder))
    converter = FileConverter(timeout=5.0)
    try:
        converter.prefetch(items)  # type: ignore[arg-type]
        texts = [converter.convert(item)[0] for item in items]  # type: ignore[arg-type]
    finally:
        converter.close()
    assert all(DOCX_SENTENCES[0] in text for text in texts)
    runs = conversion_runs(log)
    assert [files for _, files in runs] == [2, 1, 1]
    _assert_ends(runs[0][0])
    assert "LibreOffice took over 5 s for 2 DOC files: converting them one by one" in caplog.text


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_ctrl_c_during_a_batch_ends_libreoffice(tmp_path, monkeypatch):
    import _thread
    import threading

    log = stand_in(tmp_path / "bin", monkeypatch, hang="true")
    for n in range(2):
        write_rtf(tmp_path / f"notes-{n}.rtf")
    files = [_item(tmp_path, f"notes-{n}.rtf") for n in range(2)]

    def press_ctrl_c_once_it_runs() -> None:
        deadline = time.monotonic() + 60
        while not (log.exists() and conversion_runs(log)) and time.monotonic() < deadline:
            time.sleep(0.01)
        _thread.interrupt_main()

    converter = FileConverter(timeout=300.0)
    presser = threading.Thread(target=press_ctrl_c_once_it_runs)
    # Ctrl-C raises KeyboardInterrupt here, whatever handler an earlier test left installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            converter.prefetch(files)
    finally:
        signal.signal(signal.SIGINT, previous)
        presser.join()
        converter.close()
    [(pid, files)] = conversion_runs(log)
    assert files == 2
    _assert_ends(pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_ctrl_c_at_the_command_line_ends_a_libreoffice_run(tmp_path, monkeypatch, qwen_path):
    """``harrier ingest`` stopped while LibreOffice saves a group (here a stand-in that hangs):
    the command exits at once and leaves no LibreOffice running, and no temporary file."""
    log = stand_in(tmp_path / "bin", monkeypatch, hang="true")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(2):
        write_rtf(folder / f"notes-{n}.rtf")
    command = [sys.executable, "-m", "harrier.cli", "ingest", str(folder), "-v"]
    stderr = tmp_path / "stderr.txt"
    # An ignored SIGINT is inherited: an earlier test (Ray's, say) may have left one here
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with stderr.open("wb") as errors:
            run = subprocess.Popen(
                [*command, "--collection", "c", "--model", str(qwen_path)],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and conversion_runs(log)) and time.monotonic() < deadline:
            assert run.poll() is None, stderr.read_text()
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        pressed = time.monotonic()
        try:
            code = run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        assert (code, time.monotonic() - pressed < 10) == (130, True), stderr.read_text()
    finally:
        run.kill()
        run.wait()
    [(pid, files)] = conversion_runs(log)
    assert files == 2
    _assert_ends(pid)
    assert list(temporary.iterdir()) == []


def _item(folder: Path, name: str) -> ConvertedFile:
    [item] = iter_source(folder / name)
    assert isinstance(item, ConvertedFile)
    return item


def _assert_ends(pid: int) -> None:
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


@needs_libreoffice
def test_the_legacy_benchmark_runs_and_its_two_ways_agree():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_legacy

    [row] = bench_legacy.main(["--files", "2", "--paragraphs", "5"])  # asserts equal texts
    assert row["files"] == 2 and str(row["batched / per file"]).endswith("x")
