"""The ``harrier`` command end to end on the example corpus, with a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"


def harrier_cli(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "harrier.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def corpus_files() -> list[str]:
    return sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file())


def test_ingest_and_search_the_example_corpus(tmp_path, qwen_path):
    common = ["--collection", "demo", "--model", str(qwen_path)]
    first = harrier_cli(
        "ingest", str(CORPUS), *common, "--max-tokens", "128", "--json", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    for key in (
        "documents",
        "unchanged",
        "skipped",
        "spans_written",
        "spans_deleted",
        "tokens",
        "seconds",
    ):
        assert key in summary
    assert summary["documents"] == len(corpus_files()) and summary["skipped"] == 0
    assert summary["spans_written"] >= summary["documents"]
    assert (tmp_path / ".harrier" / "qdrant").is_dir()  # the embedded default

    again = harrier_cli(
        "ingest", str(CORPUS), *common, "--max-tokens", "128", "--json", cwd=tmp_path
    )
    rerun = json.loads(again.stdout)
    assert (rerun["unchanged"], rerun["spans_written"], rerun["tokens"]) == (
        summary["documents"],
        0,
        0,
    )

    found = harrier_cli(
        "search", "how do I reset my password", *common, "-k", "3", "--json", cwd=tmp_path
    )
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(hits) == 3
    for hit in hits:
        assert {"text", "score", "doc_id", "start", "end", "metadata"} <= set(hit)
        source = (CORPUS / hit["doc_id"]).read_text(encoding="utf-8")
        assert source[hit["start"] : hit["end"]] == hit["text"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    human = harrier_cli("search", "bread", *common, "-k", "1", cwd=tmp_path)
    assert human.returncode == 0 and human.stdout.startswith("1. [")

    # BM25 needs no model: a missing one is never loaded, nor is torch imported
    lexical = harrier_cli(
        *("search", "password", "--collection", "demo", "--mode", "sparse", "-k", "3", "--json"),
        *("--model", str(tmp_path / "no-such-model")),
        cwd=tmp_path,
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert lexical.returncode == 0, lexical.stderr
    assert "torch" not in lexical.stderr
    sparse_hits = [json.loads(line) for line in lexical.stdout.splitlines()]
    assert sparse_hits and all(hit["mode"] == "sparse" for hit in sparse_hits)
    assert all("password" in hit["text"].lower() for hit in sparse_hits)
    nothing = harrier_cli(
        *("search", "zyzzyva", "--collection", "demo", "--mode", "sparse"), cwd=tmp_path
    )
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert nothing.stderr.startswith("harrier: no hits: no stored span holds a word of the query")


@pytest.mark.parametrize("mode", [[], ["--mode", "sparse"]])
def test_search_of_missing_collection_fails_with_message(tmp_path, qwen_path, mode):
    result = harrier_cli(
        "search", "q", "--collection", "nope", "--model", str(qwen_path), *mode, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "ingest into it first" in result.stderr


def test_missing_model_offline_suggests_model_path(tmp_path):
    result = harrier_cli(
        "ingest",
        str(CORPUS),
        "--collection",
        "c",
        cwd=tmp_path,
        env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")},
    )
    assert result.returncode == 1
    assert "microsoft/harrier-oss-v1-270m" in result.stderr
    assert "--model PATH" in result.stderr


def test_bad_source_and_unknown_store(tmp_path, qwen_path):
    missing = harrier_cli(
        "ingest",
        str(tmp_path / "none"),
        "--collection",
        "c",
        "--model",
        str(tmp_path / "no-model"),  # refused before the model loads (minutes for the 27b)
        cwd=tmp_path,
    )
    assert missing.returncode == 1
    assert (
        missing.stderr
        == f"harrier: error: source '{tmp_path / 'none'}' is neither a folder nor a file\n"
    )
    assert not (tmp_path / ".harrier").exists()  # and before a store is made
    typo = harrier_cli(
        "search",
        "rivers",
        "--collection",
        "typo",
        "--model",
        str(tmp_path / "no-model"),
        cwd=tmp_path,
    )
    assert typo.returncode == 1  # the collection is checked before the model loads
    assert typo.stderr.startswith("harrier: error: collection 'typo' does not exist in ")
    empty = harrier_cli("search", " ", "--collection", "typo", cwd=tmp_path)
    assert empty.returncode == 1  # refused before the store opens
    assert empty.stderr == "harrier: error: the query is empty: pass the words to search for\n"
    store = harrier_cli(
        "ingest",
        str(CORPUS),
        "--collection",
        "c",
        "--store",
        "pinecone",
        "--model",
        str(qwen_path),
        cwd=tmp_path,
    )
    assert store.returncode == 1 and "unknown store 'pinecone'" in store.stderr


@pytest.mark.parametrize("command", [[], ["ingest"], ["search"]])
def test_help_is_printed(tmp_path, command):
    result = harrier_cli(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: harrier" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "q", "--collection", "c", "--mod", "x"],  # once read as --model x
        ["ingest", "src", "--collection", "c", "--max", "5"],
        ["search", "q", "--collection", "c", "--dev", "cpu"],
        ["search", "q", "--collection", "c", "--js"],
    ],
)
def test_abbreviated_options_are_refused(argv, capsys):
    from harrier.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_no_parser_accepts_abbreviations():
    from harrier.cli import build_parser

    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"ingest", "search"} <= set(subparsers)
    assert not parser.allow_abbrev and not any(p.allow_abbrev for p in subparsers.values())


def test_new_spellings_and_deprecated_ones(capsys):
    from harrier import DEFAULT_K
    from harrier.cli import parse_args

    args = parse_args(["ingest", "src", "--collection", "c", "--overlap-tokens", "8"])
    assert args.overlap_tokens == 8 and capsys.readouterr().err == ""
    args = parse_args(["search", "q", "--collection", "c", "--query-instruction", "Find it"])
    assert args.query_instruction == "Find it" and args.k == DEFAULT_K
    args = parse_args(["ingest", "src", "--collection", "c", "--overlap", "4"])
    assert args.overlap_tokens == 4
    assert "--overlap is deprecated; use --overlap-tokens" in capsys.readouterr().err
    args = parse_args(["search", "q", "--collection", "c", "--instruction", "Old"])
    assert args.query_instruction == "Old"
    assert "--instruction is deprecated; use --query-instruction" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(
            ["ingest", "src", "--collection", "c", "--overlap", "4", "--overlap-tokens", "4"]
        )


def test_zero_max_tokens_is_an_error_not_the_default(tmp_path, qwen_path):
    result = harrier_cli(
        "ingest",
        str(CORPUS),
        "--collection",
        "z",
        "--model",
        str(qwen_path),
        "--max-tokens",
        "0",
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "zero never means the default" in result.stderr
    assert "Traceback" not in result.stderr


def _imports_torch(code: str) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1] == "True"


@pytest.mark.skipif(
    _imports_torch("import harrier"),
    reason="`import harrier` itself imports torch (the lazy package init is another change)",
)
@pytest.mark.parametrize("command", [[], ["search"], ["ingest"], ["copy"], ["serve"]])
def test_help_imports_no_torch(command):
    code = (
        "import contextlib, io\n"
        "from harrier.cli import parse_args\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    parse_args({[*command, '--help']!r})"
    )
    assert not _imports_torch(code)


@pytest.mark.parametrize("command", ["ingest", "search", "copy"])
def test_subcommand_help_lists_the_store_forms(command, capsys):
    from harrier.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = capsys.readouterr().out
    for form in ("qdrant:PATH", "qdrant:URL", "qdrant-local", "milvus:PATH", "milvus:URI"):
        assert form in text


def test_help_names_the_real_defaults(capsys):
    from harrier import DEFAULT_K, DEFAULT_MODEL
    from harrier.cli import MODEL_HELP, parse_args

    assert DEFAULT_MODEL in MODEL_HELP
    assert parse_args(["search", "q", "--collection", "c"]).k == DEFAULT_K


def test_every_subcommand_runs_through_set_defaults():
    from harrier.cli import build_parser

    parser = build_parser()
    for argv in (
        ["ingest", "src", "--collection", "c"],
        ["search", "q", "--collection", "c"],
        ["copy", "--from", "qdrant", "--to", "milvus", "--collection", "c"],
        ["serve"],
    ):
        assert callable(parser.parse_args(argv).run)


def test_search_prints_page_numbers_of_paged_documents(tmp_path, qwen_path):
    from document_files import write_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "guide.pdf", ["alpha beta gamma on page one", "delta epsilon on page two"])
    common = ["--collection", "p", "--model", str(qwen_path)]
    ingested = harrier_cli("ingest", str(folder), *common, "--max-tokens", "8", cwd=tmp_path)
    if ingested.returncode != 0 or "skipped 1" in ingested.stdout:
        pytest.skip(f"no PDF converter installed: {ingested.stdout} {ingested.stderr}")
    found = harrier_cli("search", "delta epsilon", *common, "-k", "9", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "guide.pdf p. 1 [" in found.stdout and "guide.pdf p. 2 [" in found.stdout
