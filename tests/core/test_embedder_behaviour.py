"""Engine behaviour: inputs, errors, sharing, token ids, progress, out-of-memory splitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

import harrier


@pytest.fixture
def embedder(model_path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


def test_attributes(embedder, model_path):
    assert embedder.dimension == 64
    assert embedder.max_tokens == 32_768
    assert embedder.model_name == str(model_path)


def test_empty_list_gives_empty_matrix(embedder):
    for method in (embedder.embed_documents, embedder.embed_queries):
        out = method([])
        assert out.shape == (0, 64) and out.dtype == np.float32


def test_non_string_names_its_index(embedder):
    with pytest.raises(TypeError, match="index 1 is a int"):
        embedder.embed_documents(["ok", 3])
    with pytest.raises(harrier.InputTypeError, match="the input is a str, expected a list"):
        embedder.embed_queries("a bare string")


def test_text_over_limit_raises_with_index_count_and_limit(model_path):
    engine = harrier.Embedder.from_pretrained(model_path, device="cpu", max_tokens=16)
    long_text = "word " * 40
    count = engine.count_tokens([long_text])[0]
    with pytest.raises(harrier.TextTooLongError) as info:
        engine.embed_documents(["short", long_text])
    assert (info.value.index, info.value.token_count, info.value.limit) == (1, count, 16)
    assert f"index 1 has {count} tokens, over the limit of 16" in str(info.value)


def test_max_tokens_above_model_limit_is_refused(model_path):
    with pytest.raises(harrier.ConfigurationError, match="model's limit 32768"):
        harrier.Embedder.from_pretrained(model_path, device="cpu", max_tokens=40_000)


def test_text_of_special_tokens_only_is_refused(embedder):
    with pytest.raises(harrier.EmptyTextError, match="index 1"):
        embedder.embed_documents(["fine", ""])


def test_prompts_and_unknown_prompt_name(embedder):
    assert sorted(embedder.prompts) == ["bitext_query", "sts_query", "web_search_query"]
    with pytest.raises(harrier.UnknownPromptError) as info:
        embedder.embed_queries(["q"], prompt_name="query")
    assert "bitext_query" in str(info.value) and "web_search_query" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(harrier.ConfigurationError, match="not both"):
        embedder.embed_queries(["q"], instruction="x", prompt_name="sts_query")


def test_instruction_format(embedder):
    assert embedder.query_prompt("Find it") == "Instruct: Find it\nQuery: "


def test_model_without_prompts_uses_harrier_instruction(tmp_path):
    from harrier.testing import build_model

    folder = build_model(tmp_path / "m", "tiny-qwen3", prompts={})
    engine = harrier.Embedder.from_pretrained(folder, device="cpu")
    assert engine.query_prompt() == harrier.HARRIER_RETRIEVAL_PROMPT
    expected = engine.embed_documents([harrier.HARRIER_RETRIEVAL_PROMPT + "q"])
    np.testing.assert_allclose(engine.embed_queries(["q"]), expected, atol=1e-6)


def test_fp16_refused_for_gemma3(gemma_path):
    with pytest.raises(harrier.ConfigurationError, match="bfloat16"):
        harrier.Embedder.from_pretrained(gemma_path, device="cpu", dtype="float16")


def test_engines_share_one_loaded_model(model_path):
    a = harrier.Embedder.from_pretrained(model_path, device="cpu", max_tokens=100)
    b = harrier.Embedder.from_pretrained(str(model_path), device="cpu", truncate=True)
    c = harrier.Embedder.from_pretrained(model_path, device="cpu", dtype="bfloat16")
    assert a._loaded is b._loaded
    assert a._loaded.model is b._loaded.model
    assert c._loaded is not a._loaded


def test_token_ids_are_the_tokenizers_own(gemma_path, qwen_path):
    """The special tokens are used as the tokenizer adds them: BOS for Gemma, EOS for Qwen."""
    gemma = AutoTokenizer.from_pretrained(gemma_path)
    qwen = AutoTokenizer.from_pretrained(qwen_path)
    text = "Paris is the capital"
    g_ids = gemma(text)["input_ids"]
    q_ids = qwen(text)["input_ids"]
    assert g_ids[0] == gemma.bos_token_id == 2 and g_ids[-1] != gemma.eos_token_id
    assert q_ids[-1] == qwen.eos_token_id == qwen.pad_token_id == 0
    # Pinned: the tokenizers are trained deterministically on a fixed corpus.
    assert g_ids == [2, 756, 332, 288, 346]
    assert q_ids == [755, 331, 287, 345, 0]
    engine = harrier.Embedder.from_pretrained(gemma_path, device="cpu")
    assert engine.count_tokens([text]) == [len(g_ids)]
    assert [row.tolist() for row in engine._prepare([text])] == [g_ids]


def test_no_nan_with_pad_equal_to_eos(qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    out = engine.embed_documents(["a", "a much longer text " * 50, "b"])
    assert np.isfinite(out).all()


def test_progress_bar_when_asked(embedder, capsys):
    embedder.embed_documents(["a", "b"], show_progress=True)
    assert "Embedding" in capsys.readouterr().err
    embedder.embed_documents(["a", "b"])
    assert "Embedding" not in capsys.readouterr().err


def test_out_of_memory_splits_the_batch(model_path, monkeypatch, mixed_texts):
    from harrier import _forward

    engine = harrier.Embedder.from_pretrained(model_path, device="cpu")
    expected = engine.embed_documents(mixed_texts)
    real = _forward.plain_runner
    sizes: list[int] = []

    def fails_when_big(loaded):
        run = real(loaded)

        def runner(rows):
            sizes.append(len(rows))
            if len(rows) > 1:
                raise torch.OutOfMemoryError("simulated")
            return run(rows)

        return runner

    monkeypatch.setattr(_forward, "plain_runner", fails_when_big)
    np.testing.assert_allclose(engine.embed_documents(mixed_texts), expected, atol=1e-6)
    assert max(sizes) > 1 and sizes.count(1) == len(mixed_texts)

    def always_fails(rows):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(_forward, "plain_runner", lambda loaded: always_fails)
    with pytest.raises(harrier.EmbeddingOutOfMemoryError, match="split texts"):
        engine.embed_documents(["one text"])


def test_public_names_sorted_and_importable():
    assert harrier.__all__ == sorted(harrier.__all__)
    for name in harrier.__all__:
        assert getattr(harrier, name) is not None
    assert issubclass(harrier.TextTooLongError, harrier.InputError)
    assert issubclass(harrier.ModelNotFoundError, harrier.HarrierError)


def test_threads_share_one_engine_safely(model_path, mixed_texts):
    """Concurrent calls (with truncation changing tokenizer state) give the same vectors."""
    from concurrent.futures import ThreadPoolExecutor

    cut = harrier.Embedder.from_pretrained(model_path, device="cpu", max_tokens=24, truncate=True)
    whole = harrier.Embedder.from_pretrained(model_path, device="cpu")
    expected_cut = cut.embed_documents(mixed_texts)
    expected_whole = whole.embed_queries(mixed_texts)
    jobs = [(cut.embed_documents, expected_cut), (whole.embed_queries, expected_whole)] * 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: (job[0](mixed_texts), job[1]), jobs))
    for actual, expected in results:
        np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("packing", [False, True])
def test_non_finite_output_is_a_typed_error(tmp_path, packing):
    """A NaN in one text's hidden states raises, naming that text; no vector is returned."""
    import torch

    from harrier.testing import build_model

    folder = build_model(tmp_path / "nan-model", "tiny-qwen3")  # own weights: others stay clean
    engine = harrier.Embedder.from_pretrained(folder, device="cpu", packing=packing)
    clean, poisoned = engine.token_ids(["plain text here", "another text"])
    token = int(poisoned[0])
    assert token not in clean.tolist()
    with torch.no_grad():
        engine._loaded.model.get_input_embeddings().weight[token] = float("nan")
    assert np.isfinite(engine.embed_token_ids([clean])).all()  # the other rows are unaffected
    with pytest.raises(harrier.NonFiniteEmbeddingError, match="first at index 1") as caught:
        engine.embed_token_ids([clean, poisoned, clean])
    assert caught.value.indices == [1]
    assert isinstance(caught.value, ArithmeticError)
