"""A converter package outside harrier (examples/harrier-convert-eml) plugs in through the
``harrier.converters`` entry point: it passes ConverterContract and works from the command
line; a broken or conflicting entry point is left out with a warning, never a crash."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from email.message import EmailMessage
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from harrier.sources.convert import Unconvertible, _registry
from harrier.testing import ConverterContract

eml = pytest.importorskip(
    "harrier_convert_eml", reason="pip install -e examples/harrier-convert-eml (as .ci/run does)"
)

PLAIN = "The harbour crane is repaired and back in service on Monday."
HTML = "Ferries to the island run every hour from the northern pier."


def write_email(path: Path, *, html: bool = False, attachment: bool = False) -> Path:
    """A message written by Python's own email package, as a mail client exports it."""
    message = EmailMessage()
    message["From"] = "Åsa Berg <asa@example.org>"
    message["To"] = "port-office@example.org"
    message["Date"] = "Fri, 04 Dec 2026 09:30:00 +0100"
    message["Subject"] = "Harbour update — crane and ferries"
    if html:
        message.set_content(
            f"<html><head><style>p {{color: red}}</style></head><body><p>{HTML}</p>"
            "<script>track()</script></body></html>",
            subtype="html",
        )
    else:
        message.set_content(PLAIN)
    if attachment:
        message.add_attachment(
            b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="timetable.pdf"
        )
    path.write_bytes(message.as_bytes())
    return path


class TestEmlConverter(ConverterContract):
    @pytest.fixture
    def converter(self):
        return eml.CONVERTER

    @pytest.fixture
    def samples(self, tmp_path):
        return {
            write_email(tmp_path / "plain.eml"): [PLAIN, "From: Åsa Berg <asa@example.org>"],
            write_email(tmp_path / "html.eml", html=True, attachment=True): [
                HTML,
                "Attachments: timetable.pdf",
            ],
        }

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, qwen_engine):
        return qwen_engine


@pytest.fixture(scope="module")
def qwen_engine(qwen_path):
    import harrier

    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


def test_an_html_email_keeps_its_text_not_its_scripts_or_styles(tmp_path):
    with write_email(tmp_path / "a.eml", html=True).open("rb") as stream:
        conversion = eml.convert_eml(stream)
    text = "\n\n".join(conversion.pieces)
    assert HTML in text and "track()" not in text and "color" not in text
    assert conversion.title == "Harbour update — crane and ferries"


def test_the_command_line_ingests_and_finds_emails(tmp_path, qwen_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    write_email(folder / "crane.eml")
    common = ["--collection", "mail", "--model", str(qwen_path)]
    ingest = subprocess.run(
        [sys.executable, "-m", "harrier.cli", "ingest", str(folder), *common, "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["documents"] == 1
    search = subprocess.run(
        [
            sys.executable,
            "-m",
            "harrier.cli",
            "search",
            "crane",
            *common,
            "--mode",
            "sparse",
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    [hit] = [json.loads(line) for line in search.stdout.splitlines()]
    assert hit["doc_id"] == "crane.eml" and hit["metadata"]["format"] == "eml"
    assert PLAIN in hit["text"]


def test_a_broken_or_conflicting_converter_is_left_out_with_a_warning(monkeypatch, caplog):
    points = [
        EntryPoint("missing", "no_such_module:CONVERTER", _registry.ENTRY_POINT_GROUP),
        EntryPoint("not-one", "harrier.sources.convert._registry:EXTRA_HINT", "g"),
        EntryPoint("taken", "harrier_convert_eml:TAKEN", _registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(
        eml, "TAKEN", _registry.Converter("mydoc", "x", "m:f", (), (".DOCX",)), raising=False
    )
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: points)
    before = (dict(_registry.CONVERTERS), dict(_registry.BY_EXTENSION))
    caplog.set_level(logging.WARNING, logger="harrier")
    _registry.add_plugins()
    assert (dict(_registry.CONVERTERS), dict(_registry.BY_EXTENSION)) == before
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("converter 'missing' (no_such_module:CONVERTER) failed to load")
    assert "is a str, not a harrier.sources.convert.Converter" in messages[1]
    assert messages[2].endswith("left out: the extensions ['.DOCX'] are taken")


def test_a_package_format_with_magic_is_known_by_its_content_too(monkeypatch):
    from harrier.sources.convert import detect_format

    myf = _registry.Converter("myf", "x", "m:f", (), (".myf",), magic=(b"MYF1",))
    monkeypatch.setitem(_registry.CONVERTERS, "myf", myf)
    monkeypatch.setitem(_registry.BY_EXTENSION, ".myf", "myf")
    content = b"MYF1\x00\x01 records"
    for name in ("notes.myf", "notes", "notes.dat", "NOTES.MYF"):
        assert detect_format(Path(name), content) == "myf", name
    assert detect_format(Path("notes"), b"MYF is a plain sentence") is None
    assert detect_format(Path("paper"), b"%PDF-1.7 MYF1") == "pdf"  # harrier's own first
    with pytest.raises(Unconvertible, match="not a MYF file"):
        detect_format(Path("notes.myf"), b"plain text")
    with pytest.raises(Unconvertible, match="not a DOCX file: MYF content"):
        detect_format(Path("notes.docx"), content)


def test_magic_too_short_to_be_distinctive_is_left_out(monkeypatch, caplog):
    points = [EntryPoint("tiny", "harrier_convert_eml:TINY", _registry.ENTRY_POINT_GROUP)]
    tiny = _registry.Converter("tiny", "x", "m:f", (), (".tiny",), magic=(b"T", b""))
    monkeypatch.setattr(eml, "TINY", tiny, raising=False)
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: points)
    caplog.set_level(logging.WARNING, logger="harrier")
    _registry.add_plugins()
    assert "tiny" not in _registry.CONVERTERS
    assert "its magic must be bytes of 2 or more each" in caplog.records[0].getMessage()


def test_python_s_own_test_messages_convert_or_skip_with_a_reason(tmp_path):
    """CPython's email test messages (digests, bounces, MIME oddities: nobody here wrote
    them), where this Python ships its test package."""
    import email

    from harrier.sources._documents import iter_source
    from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible

    data = Path(email.__file__).parent.parent / "test" / "test_email" / "data"
    messages = sorted(data.glob("msg_*.txt"))
    if not messages:
        pytest.skip(f"no email test messages in {data} (this Python ships without its tests)")
    for path in messages:
        (tmp_path / f"{path.stem}.eml").write_bytes(path.read_bytes())
    converter, texts, skips = FileConverter(timeout=60.0), {}, {}
    try:
        for item in iter_source(tmp_path):
            assert isinstance(item, ConvertedFile)
            try:
                texts[item.id] = converter.convert(item)[0]
            except Unconvertible as exc:
                skips[item.id] = str(exc)
    finally:
        converter.close()
    assert len(texts) >= 0.9 * len(messages), skips
    assert all(
        reason.split(": ")[0] in {"empty or whitespace only", "not an email"}
        for reason in skips.values()
    ), skips
    digest = texts["msg_02.eml"]
    assert digest.startswith("From: ppp-request@zzz.org\nTo: ppp@zzz.org\n")
    assert "Subject: Ppp digest, Vol 1 #2 - 5 msgs" in digest
