"""Build random models of the Harrier architectures, saved like a Hub download."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harrier._embedder import Embedder

HARRIER_PROMPTS: dict[str, str] = {
    "web_search_query": "Instruct: Given a web search query, retrieve relevant passages that "
    "answer the query\nQuery: ",
    "sts_query": "Instruct: Retrieve semantically similar text\nQuery: ",
    "bitext_query": "Instruct: Retrieve parallel sentences\nQuery: ",
}

_CORPUS = [
    "The quick brown fox jumps over the lazy dog. Retrieval augmented generation needs "
    "good embeddings.",
    "Given a web search query, retrieve relevant passages that answer the query.",
    "Instruct: Retrieve semantically similar text\nQuery: what is the capital of France?",
    "Paris is the capital and most populous city of France. Berlin is the capital of Germany.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Ähnliche Sätze finden.",
    "Le renard brun rapide saute par-dessus le chien paresseux. Où est la bibliothèque ?",
    "El zorro marrón rápido salta sobre el perro perezoso. ¿Dónde está la estación?",
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。今天天气很好！你好吗？",
    "東京は日本の首都です。検索拡張生成は便利です。",
    "검색 증강 생성은 유용합니다. 서울은 한국의 수도입니다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول. استرجاع النصوص.",
    "Быстрая коричневая лиса прыгает через ленивую собаку. Поиск документов.",
    "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts)\n",
    "for (int i = 0; i < n; ++i) { total += values[i]; }  // sum",
    "Emoji 🙂🚀🔥 and symbols ±×÷ → ← ✓ in text. Numbers 0123456789 3.14159.",
    "Paragraph one ends here.\n\nParagraph two starts here. It has two sentences.",
]


@dataclass(frozen=True)
class ModelShape:
    """The architecture numbers of a random model (see HARRIER.md for the real ones)."""

    model_type: str  # "gemma3_text" or "qwen3"
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_positions: int = 32_768
    sliding_window: int = 512

    def with_layers(self, num_layers: int) -> ModelShape:
        """The same shape with another depth (benchmarks on CPU use fewer layers)."""
        return replace(self, num_layers=num_layers)


SHAPES: dict[str, ModelShape] = {
    "tiny-gemma3": ModelShape("gemma3_text", 64, 2, 4, 1, 16, 128, 1024, 32_768, 8),
    "tiny-qwen3": ModelShape("qwen3", 64, 2, 4, 2, 16, 128, 1024, 32_768),
    "harrier-270m": ModelShape("gemma3_text", 640, 18, 4, 1, 256, 2048, 262_144, 32_768, 512),
    "harrier-0.6b": ModelShape("qwen3", 1024, 28, 16, 8, 128, 3072, 151_936, 32_768),
}

_SPECIALS: dict[str, dict[str, str | None]] = {
    "gemma3_text": {"pad": "<pad>", "eos": "<eos>", "bos": "<bos>", "unk": "<unk>"},
    "qwen3": {"pad": "<|endoftext|>", "eos": "<|endoftext|>", "bos": None, "unk": None},
}


def train_tokenizer(model_type: str, vocab_size: int = 1000, max_length: int = 32_768):  # type: ignore[no-untyped-def]
    """Train a byte-level BPE tokenizer on a small multilingual corpus.

    The ``gemma3_text`` flavour prepends ``<bos>`` and pads with ``<pad>``; the ``qwen3`` flavour
    appends ``<|endoftext|>``, which is also its pad token (a trap the engine must handle).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = _SPECIALS[model_type]
    special_tokens = [t for t in dict.fromkeys(specials.values()) if t]
    if model_type == "qwen3":
        special_tokens += ["<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    if model_type == "gemma3_text":
        bos = str(specials["bos"])
        template = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    else:
        eos = str(specials["eos"])
        template = processors.TemplateProcessing(
            single=f"$A {eos}", pair=f"$A $B {eos}", special_tokens=[(eos, tok.token_to_id(eos))]
        )
    tok.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=False), template])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=specials["bos"],
        eos_token=specials["eos"],
        pad_token=specials["pad"],
        unk_token=specials["unk"],
        model_max_length=max_length,
        padding_side="right",
    )


def _config(shape: ModelShape, tokenizer):  # type: ignore[no-untyped-def]
    from transformers import Gemma3TextConfig, Qwen3Config

    common = dict(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        head_dim=shape.head_dim,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_positions,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    if shape.model_type == "gemma3_text":
        pattern = ["sliding_attention"] * 5 + ["full_attention"]
        layer_types = [pattern[i % 6] for i in range(shape.num_layers)]
        if "full_attention" not in layer_types:  # shallow models still get one global layer
            layer_types[-1] = "full_attention"
        return Gemma3TextConfig(
            **common, sliding_window=shape.sliding_window, layer_types=layer_types
        )
    if shape.model_type == "qwen3":
        return Qwen3Config(
            **common,
            rope_theta=1_000_000.0,  # type: ignore[call-arg]
            tie_word_embeddings=True,
        )
    raise ValueError(f"unknown model_type {shape.model_type!r}; use 'gemma3_text' or 'qwen3'")


def build_model(
    path: str | Path,
    shape: ModelShape | str = "tiny-qwen3",
    *,
    seed: int = 0,
    prompts: dict[str, str] | None = None,
    pooling: str = "lasttoken",
    tokenizer_vocab: int = 1000,
    layers: int | None = None,
) -> Path:
    """Save a random model of ``shape`` with a freshly trained tokenizer into ``path``.

    ``shape``: a :class:`ModelShape` or a name of :data:`SHAPES` (``"harrier-270m"``,
    ``"harrier-0.6b"``, ``"tiny-qwen3"``, ``"tiny-gemma3"``); ``layers``: another depth than
    the shape's (the real widths with ``layers=2`` run on a CPU at a fraction of the cost).

    Writes the files a Harrier repo ships: ``config.json``, ``model.safetensors``, the tokenizer,
    ``modules.json``, ``1_Pooling/config.json`` and ``config_sentence_transformers.json``.
    """
    import torch
    from transformers import AutoModel

    if isinstance(shape, str):
        shape = SHAPES[shape]
    if layers is not None:
        shape = shape.with_layers(layers)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(shape.model_type, min(tokenizer_vocab, shape.vocab_size))
    torch.manual_seed(seed)
    model = AutoModel.from_config(_config(shape, tokenizer), dtype=torch.float32)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    _write_json(
        path / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    modes = {"lasttoken": "pooling_mode_lasttoken", "mean": "pooling_mode_mean_tokens"}
    pooling_config = {
        "word_embedding_dimension": shape.hidden_size,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    pooling_config[modes[pooling]] = True
    _write_json(path / "1_Pooling" / "config.json", pooling_config)
    (path / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        path / "config_sentence_transformers.json",
        {
            "prompts": HARRIER_PROMPTS if prompts is None else prompts,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    return path


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def tiny_embedder(folder: str | Path) -> Embedder:
    """A ``harrier.Embedder`` on the CPU over a tiny random Qwen3-shaped model written to
    ``folder`` (the contracts' default engine)."""
    from harrier._embedder import Embedder

    return Embedder.from_pretrained(build_model(folder, "tiny-qwen3"), device="cpu")
