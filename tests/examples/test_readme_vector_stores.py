"""The README's "LangChain vector store" and "LlamaIndex vector store" sections run as written
(on a tiny local model, in a temporary folder, so on the default store ``./.harrier/qdrant``)."""

from __future__ import annotations

import ast

from readme_sections import run_section


def test_langchain_section_runs_on_the_default_store(qwen_path, tmp_path):
    lines = run_section("LangChain vector store", qwen_path, tmp_path)
    found, mmr, retrieved, hybrid, span, first, second = lines
    assert set(ast.literal_eval(found)) == {"paris", "loire"}  # the filter kept lang == "en"
    assert (mmr, retrieved, hybrid) == ("2", "2", "2")
    metadata = ast.literal_eval(span)
    assert (metadata["doc_id"], metadata["span_index"]) == ("guide", 1)
    assert "'num_added': 2" in first and "'num_skipped': 0" in first
    assert "'num_added': 1" in second and "'num_skipped': 1" in second
    assert "'num_deleted': 1" in second
    assert (tmp_path / ".harrier" / "qdrant" / "docs").is_dir()  # Edge, the default store


def test_llamaindex_section_runs_on_the_default_store(qwen_path, tmp_path):
    lines = run_section("LlamaIndex vector store", qwen_path, tmp_path)
    written, rerun, recent, answer_source = lines
    assert (written, rerun) == ("2", "0")
    assert ast.literal_eval(recent) == ["paris"]
    assert answer_source in {"Paris is the capital of France.", "Berlin is the capital of Germany."}
    assert (tmp_path / ".harrier" / "qdrant" / "notes").is_dir()
