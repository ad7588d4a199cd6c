"""``HarrierNodeParser``: split documents into nodes that fit the model, with exact offsets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, MetadataMode, NodeRelationship, TextNode
from llama_index.core.utils import get_tqdm_iterable

from harrier import (
    DEFAULT_MODEL,
    ConfigurationError,
    EmbeddingEngine,
    ModelNotFoundError,
    split_spans,
)
from llama_index.embeddings.harrier._embedding import HarrierEmbedding

_NAME_LIMIT = 32_768  # Harrier's token limit: the cap when only a tokenizer is loaded


class HarrierNodeParser(NodeParser):
    """Split text into spans of at most ``max_tokens`` model tokens (``harrier.split_spans``).

    Give it a ``harrier.Embedder``, a :class:`HarrierEmbedding` or a model name (only the
    tokenizer is loaded then). Each node is an exact slice of its source's text:
    ``source_text[node.start_char_idx:node.end_char_idx] == node.text``. Nodes get the SOURCE
    relationship, PREVIOUS/NEXT between neighbours, and the source's metadata; with
    ``include_metadata`` the spans leave room for that metadata, so every node still fits
    ``max_tokens`` when embedded as ``node.get_content(MetadataMode.EMBED)``.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model_name: str = Field(
        default=DEFAULT_MODEL, description="Model whose tokenizer counts the tokens."
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Most tokens per node, special tokens included. None: the embedder's "
        "max_tokens, or the tokenizer's limit capped at 32,768 when given a model name.",
    )
    overlap_tokens: int = Field(
        default=0, ge=0, description="Tokens each node repeats from the end of the previous one."
    )
    revision: str | None = Field(
        default=None, description="Hub revision, used when loading the tokenizer by name."
    )
    local_files_only: bool = Field(
        default=False, description="Load the tokenizer by name from the local cache only."
    )

    _counter: Any = PrivateAttr()  # the Embedder or tokenizer split_spans works with

    def __init__(
        self,
        embedder: EmbeddingEngine | HarrierEmbedding | str | os.PathLike[str] | None = None,
        **data: Any,
    ) -> None:
        """``embedder``: an ``Embedder`` (or any ``harrier.EmbeddingEngine``), a
        ``HarrierEmbedding`` or a model id / folder."""
        if isinstance(embedder, HarrierEmbedding):
            data.setdefault("revision", embedder.revision)
            data.setdefault("local_files_only", embedder.local_files_only)
            embedder = embedder.embedder
        by_name = embedder is None or isinstance(embedder, (str, os.PathLike))
        if isinstance(embedder, (str, os.PathLike)):
            data["model_name"] = os.fspath(embedder)
        elif embedder is not None:
            data["model_name"] = embedder.model_name
            if data.get("max_tokens") is None:
                data["max_tokens"] = embedder.max_tokens
        super().__init__(**data)
        if not by_name:
            self._counter = embedder
        else:
            self._counter = self._load_tokenizer()
            if self.max_tokens is None:
                length = getattr(self._counter, "model_max_length", 0)
                self.max_tokens = length if 0 < length <= _NAME_LIMIT else _NAME_LIMIT
        split_spans(
            "", self._counter, max_tokens=self.max_tokens, overlap_tokens=self.overlap_tokens
        )  # checks both limits now

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(
                self.model_name, revision=self.revision, local_files_only=self.local_files_only
            )
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"cannot load the tokenizer of {self.model_name!r}: {exc}. Pass a local folder, "
                "a harrier.Embedder or a HarrierEmbedding instead."
            ) from exc

    @classmethod
    def class_name(cls) -> str:
        return "HarrierNodeParser"

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings only; unpickling loads the tokenizer by name."""
        state = BaseModel.__getstate__(self)
        state["__pydantic_private__"] = {}
        return state

    # -- parsing -------------------------------------------------------------------------------
    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        parsed: list[BaseNode] = []
        for node in get_tqdm_iterable(nodes, show_progress, "Splitting into spans"):
            parsed.extend(self._split_node(node))
        return parsed

    async def _aparse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self._parse_nodes, nodes, show_progress, **kwargs)

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        """LlamaIndex's relationships and metadata, but keep the exact offsets (it re-finds text,
        which can land on an earlier repeat of the same words)."""
        offsets = [(n.start_char_idx, n.end_char_idx) for n in nodes if isinstance(n, TextNode)]
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        text_nodes = [n for n in nodes if isinstance(n, TextNode)]
        for node, (start, end) in zip(text_nodes, offsets, strict=True):
            node.start_char_idx, node.end_char_idx = start, end
        return nodes

    def _split_node(self, node: BaseNode) -> list[TextNode]:
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        if not text:
            return []
        limit = int(self.max_tokens)  # type: ignore[arg-type]  # set in __init__
        special = self._count([""])[0]
        source = node.as_related_node_info()  # hashes the whole source: once per node
        settings = self._chunk_settings(node)
        header = TextNode(text="", **settings).get_content(MetadataMode.EMBED)
        budget = limit - (self._count([header])[0] - special if header else 0)
        while True:
            if budget <= special:
                raise ConfigurationError(
                    f"the metadata of node {node.node_id} takes about {limit - budget} of the "
                    f"{limit} tokens a node may hold; shorten it, list keys in "
                    "excluded_embed_metadata_keys, or pass include_metadata=False"
                )
            spans = split_spans(
                text, self._counter, max_tokens=budget, overlap_tokens=self.overlap_tokens
            )
            chunks = [
                TextNode(
                    id_=self.id_func(span.index, node),
                    text=span.text,
                    start_char_idx=span.start,
                    end_char_idx=span.end,
                    relationships={NodeRelationship.SOURCE: source},
                    **self._chunk_settings(node),
                )
                for span in spans
            ]
            if not header or not chunks:
                return chunks
            counts = self._count([c.get_content(MetadataMode.EMBED) for c in chunks])
            if max(counts) <= limit:
                return chunks
            budget -= max(counts) - limit  # the header merged differently: tighten and redo

    def _chunk_settings(self, node: BaseNode) -> dict[str, Any]:
        """What a node inherits from its source: metadata (a fresh copy) and how it renders."""
        settings: dict[str, Any] = {
            "metadata": dict(node.metadata) if self.include_metadata else {},
            "excluded_embed_metadata_keys": list(node.excluded_embed_metadata_keys),
            "excluded_llm_metadata_keys": list(node.excluded_llm_metadata_keys),
            "metadata_template": node.metadata_template,
            "metadata_separator": node.metadata_separator,
        }
        if isinstance(getattr(node, "text_template", None), str):
            settings["text_template"] = node.text_template  # type: ignore[attr-defined]
        return settings

    def _count(self, texts: list[str]) -> list[int]:
        """Token counts as the engine counts documents (special tokens included)."""
        if hasattr(self._counter, "count_tokens"):  # an engine, not a bare tokenizer
            return list(self._counter.count_tokens(texts))
        ids = self._counter(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(row) for row in ids["input_ids"]]
