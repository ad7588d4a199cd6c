"""Both framework adapters speak one vocabulary, built from one ``EmbedderSettings``."""

from __future__ import annotations

import inspect
import pickle
import warnings

import pytest

import harrier
from harrier.cli import build_parser
from langchain_harrier import HarrierEmbeddings
from langchain_harrier import HarrierRetriever as LangChainRetriever
from llama_index.embeddings.harrier import HarrierEmbedding
from llama_index.embeddings.harrier import HarrierRetriever as LlamaRetriever

ADAPTERS = [HarrierEmbeddings, HarrierEmbedding]
TASK = "Find the passage that answers the question"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_model_and_model_name_are_one_field(adapter, qwen_path):
    by_model = adapter(model=qwen_path, device="cpu", max_tokens=64, query_instruction=TASK)
    by_name = adapter(
        model_name=str(qwen_path), device="cpu", max_tokens=64, query_instruction=TASK
    )
    assert by_model.model_name == by_name.model_name == str(qwen_path)
    assert (
        by_model.settings
        == by_name.settings
        == harrier.EmbedderSettings(str(qwen_path), device="cpu", max_tokens=64)
    )
    assert isinstance(by_model.embedder, harrier.Embedder)
    assert by_model.embedder.settings == by_model.settings
    assert by_model.query_prompt == f"Instruct: {TASK}\nQuery: "


def test_both_adapters_build_the_same_engine(qwen_path):
    fields = {
        "model": qwen_path,
        "device": "cpu",
        "max_batch_tokens": 512,
        "truncate": True,
        "prefix_cache": False,
        "dtype": "float32",
    }
    langchain, llama = HarrierEmbeddings(**fields), HarrierEmbedding(**fields)
    assert langchain.settings == llama.settings
    assert langchain.embedder._loaded is llama.embedder._loaded
    assert llama.embedder.max_batch_tokens == 512 and llama.embedder.prefix_cache is False
    assert langchain.embed_query("q") == llama.get_query_embedding("q")
    assert langchain.embed_documents(["d"]) == llama.get_text_embedding_batch(["d"])


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("field", ["max_tokens", "max_batch_tokens"])
def test_zero_is_a_configuration_error_in_both(adapter, field, qwen_path):
    with pytest.raises(harrier.ConfigurationError, match="zero never means the default"):
        adapter(model=qwen_path, device="cpu", **{field: 0})


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_both_pickle_their_settings_and_rebuild_the_engine(adapter, qwen_path):
    original = adapter(model=qwen_path, device="cpu", max_tokens=48)
    restored = pickle.loads(pickle.dumps(original))
    assert restored.settings == original.settings
    assert restored.embedder.max_tokens == 48


def test_the_old_llamaindex_accessor_still_works_with_a_warning(qwen_path):
    embedding = HarrierEmbedding(model_name=str(qwen_path), device="cpu")
    with pytest.warns(DeprecationWarning, match="use HarrierEmbedding.embedder"):
        assert embedding.engine is embedding.embedder


def test_index_takes_query_instruction_and_the_old_spelling_warns(qwen_path, tmp_path):
    from harrier_qdrant import QdrantStore

    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store = QdrantStore("v", path=tmp_path / "q")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = harrier.Index(store, engine, query_instruction=TASK)
    assert index.query_instruction == TASK
    with pytest.warns(DeprecationWarning, match="use query_instruction"):
        old = harrier.Index(store, engine, instruction=TASK)
    assert old.query_instruction == TASK
    with pytest.raises(harrier.ConfigurationError, match="query_instruction only"):
        harrier.Index(store, engine, instruction=TASK, query_instruction=TASK)
    store.close()


def test_one_default_k_for_every_search_entry_point():
    search = build_parser()._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    defaults = {
        "Index.search": inspect.signature(harrier.Index.search).parameters["k"].default,
        "CLI -k": search.get_default("k"),
        "LangChain retriever": LangChainRetriever.model_fields["k"].default,
        "LlamaIndex retriever": inspect.signature(LlamaRetriever).parameters["k"].default,
    }
    assert set(defaults.values()) == {harrier.DEFAULT_K}, defaults
