"""``HarrierEmbedding``: a LlamaIndex embedding model backed by the shared ``harrier`` engine."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from harrier import DEFAULT_MODEL, Embedder, RemoteEmbedder


class HarrierEmbedding(BaseEmbedding):
    """Harrier-OSS-v1 embeddings for LlamaIndex.

    Queries get the query prompt (``query_instruction``, else ``prompt_name``, else the model's
    own retrieval prompt); texts and nodes are embedded as plain text, never with a prompt.
    Batching is done by the engine by token budget; ``embed_batch_size`` only sets how many
    texts LlamaIndex hands over at once.
    """

    model_config = ConfigDict(
        extra="forbid", protected_namespaces=("pydantic_model_",), arbitrary_types_allowed=True
    )

    model_name: str = Field(
        default=DEFAULT_MODEL, description="Hugging Face model id or local folder of the model."
    )
    embed_batch_size: int = Field(
        default=256,
        gt=0,
        le=2048,
        description="Texts handed to the engine per call; it batches them by token budget.",
    )
    query_instruction: str | None = Field(
        default=None,
        description="One-sentence task for queries, encoded as 'Instruct: {task}\\nQuery: '. "
        "None uses prompt_name, else the model's retrieval prompt (web_search_query).",
    )
    prompt_name: str | None = Field(
        default=None,
        description="A named prompt the model ships (e.g. 'sts_query'); exclusive with "
        "query_instruction.",
    )
    device: str | None = Field(
        default=None, description="Torch device; None means CUDA when available, else CPU."
    )
    dtype: str | None = Field(
        default=None, description="'bfloat16' or 'float32'; None means bf16 on CUDA, fp32 on CPU."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Longest text in tokens; None means the model's limit."
    )
    max_batch_tokens: int | None = Field(
        default=None, gt=0, description="Padded tokens per forward pass; None: engine default."
    )
    truncate: bool = Field(
        default=False,
        description="Cut texts longer than max_tokens instead of raising TextTooLongError.",
    )
    local_files_only: bool = Field(
        default=False, description="Never contact the Hugging Face Hub; use the local cache."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag, commit).")
    show_progress: bool = Field(default=False, description="Show the engine's progress bar.")

    _engine: Embedder | RemoteEmbedder = PrivateAttr()

    def __init__(self, *, embedder: Embedder | RemoteEmbedder | None = None, **data: Any) -> None:
        """Validate the settings, then load (or reuse) the model and check the query prompt.

        Harrier's own errors (``ModelNotFoundError``, ``UnknownPromptError``, ...) propagate as
        they are rather than wrapped in a pydantic ``ValidationError``. ``embedder`` (an
        ``Embedder`` or a ``harrier.RemoteEmbedder``) is used as is instead of loading one.
        """
        if embedder is not None:
            data.setdefault("model_name", embedder.model_name)
        super().__init__(**data)
        self._engine = embedder or Embedder.from_pretrained(
            self.model_name,
            device=self.device,
            dtype=self.dtype,
            max_tokens=self.max_tokens,
            truncate=self.truncate,
            local_files_only=self.local_files_only,
            revision=self.revision,
            max_batch_tokens=self.max_batch_tokens,
            show_progress=self.show_progress,
        )
        self._engine.query_prompt(self.query_instruction, self.prompt_name)

    @classmethod
    def class_name(cls) -> str:
        return "HarrierEmbedding"

    @property
    def engine(self) -> Embedder | RemoteEmbedder:
        """The ``harrier.Embedder`` doing the work (shares its weights with other embedders)."""
        return self._engine

    @property
    def query_prompt(self) -> str:
        """The exact text put before every query."""
        return self._engine.query_prompt(self.query_instruction, self.prompt_name)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings only; unpickling loads the model again (or reuses it)."""
        state = BaseModel.__getstate__(self)
        state["__pydantic_private__"] = {}
        return state

    # -- the hooks BaseEmbedding calls ---------------------------------------------------------
    def _get_query_embedding(self, query: str) -> Embedding:
        vectors = self._engine.embed_queries(
            [query], instruction=self.query_instruction, prompt_name=self.prompt_name
        )
        return vectors[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._engine.embed_documents(texts)
        return vectors.tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
