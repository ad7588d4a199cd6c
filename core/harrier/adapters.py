"""What the LangChain and LlamaIndex adapters share: the engine settings as pydantic fields.

Both frameworks model their components with pydantic, so this module needs it (it comes with
either extra); ``import harrier`` alone does not.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from harrier._engine import EmbeddingEngine
from harrier._settings import DEFAULT_MODEL, EmbedderSettings

__all__ = ["EmbedderFields"]

_ENGINE_FIELDS = (
    "revision",
    "local_files_only",
    "device",
    "dtype",
    "max_tokens",
    "truncate",
    "max_batch_tokens",
    "prefix_cache",
    "trust_remote_code",
    "attn_implementation",
    "show_progress",
)


class EmbedderFields(BaseModel):
    """A framework component backed by a :class:`harrier.Embedder`.

    The model is given as ``model`` or ``model_name``; the other engine fields are those of
    :class:`harrier.EmbedderSettings` and are checked by it (a zero limit raises
    ``harrier.ConfigurationError``). The model is loaded when the component is built, shared
    with every other embedder of the same model, device and dtype, and exposed as
    :attr:`embedder`. Queries get :attr:`query_prompt`; documents never get a prompt.
    """

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    model_name: str = Field(
        default=DEFAULT_MODEL,
        alias="model",
        frozen=True,
        description="Hub id or local folder (also accepted as ``model``).",
    )
    query_instruction: str | None = Field(
        default=None,
        description="One-sentence task put before each query as "
        "``Instruct: {task}\\nQuery: {text}``; None uses ``prompt_name``, else the model's "
        "retrieval prompt (``web_search_query``). Documents never get it.",
    )
    prompt_name: str | None = Field(
        default=None,
        description="A named query prompt the model ships (``web_search_query``, "
        "``sts_query``, ``bitext_query``); exclusive with ``query_instruction``.",
    )
    revision: str | None = Field(
        default=None, frozen=True, description="Hub revision (branch, tag or commit)."
    )
    local_files_only: bool = Field(
        default=False, frozen=True, description="Never contact the Hub; use the local cache."
    )
    device: str | None = Field(
        default=None,
        frozen=True,
        description="``cpu``, ``cuda``, ``cuda:1``; None: CUDA if present.",
    )
    dtype: str | None = Field(
        default=None,
        frozen=True,
        description="``float32`` or ``bfloat16``; None: bfloat16 on CUDA, float32 elsewhere.",
    )
    max_tokens: int | None = Field(
        default=None, frozen=True, description="Longest text in tokens; None: the model's limit."
    )
    truncate: bool = Field(
        default=False,
        frozen=True,
        description="Cut texts longer than "
        "``max_tokens`` instead of raising ``harrier.TextTooLongError``.",
    )
    max_batch_tokens: int | None = Field(
        default=None,
        frozen=True,
        description="Padded tokens per forward pass; None: 65,536 on CUDA, 8,192 else.",
    )
    prefix_cache: bool | None = Field(
        default=None,
        frozen=True,
        description="Reuse the query prompt's key/value states; None: on CPU only.",
    )
    trust_remote_code: bool = Field(
        default=False, frozen=True, description="Run the model folder's own code."
    )
    attn_implementation: str | None = Field(
        default=None, frozen=True, description="transformers' attention kernel."
    )
    show_progress: bool = Field(
        default=False, frozen=True, description="Show the engine's progress bar."
    )

    _engine: EmbeddingEngine | None = PrivateAttr(default=None)

    def __init__(self, *, embedder: EmbeddingEngine | None = None, **data: Any) -> None:
        """Check the settings, load the model and check the query prompt; harrier's errors
        (``ConfigurationError``, ``ModelNotFoundError``...) pass unchanged, not wrapped.

        ``embedder`` (an ``Embedder``, a ``harrier.RemoteEmbedder`` for a ``harrier serve``
        server, or any ``harrier.EmbeddingEngine``) is used as is instead of loading ``model``."""
        if embedder is not None and "model" not in data and "model_name" not in data:
            data["model_name"] = embedder.model_name
        super().__init__(**data)
        self._engine = embedder
        self.embedder.query_prompt(self.query_instruction, self.prompt_name)

    @field_validator("model_name", mode="before")
    @classmethod
    def _path_to_str(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @property
    def settings(self) -> EmbedderSettings:
        """The engine settings these fields make."""
        return EmbedderSettings(
            self.model_name, **{name: getattr(self, name) for name in _ENGINE_FIELDS}
        )

    @property
    def embedder(self) -> EmbeddingEngine:
        """The engine doing the work: the one given, else a ``harrier.Embedder`` of these
        settings (built on first use)."""
        if self._engine is None:
            from harrier._embedder import Embedder  # torch is loaded only when a model is

            self._engine = Embedder.from_settings(self.settings)
        return self._engine

    @property
    def query_prompt(self) -> str:
        """The exact text put before every query."""
        return self.embedder.query_prompt(self.query_instruction, self.prompt_name)

    def embed_query_vector(self, text: str) -> list[float]:
        """One query embedded with :attr:`query_prompt`, as a list."""
        vectors = self.embedder.embed_queries(
            [text], instruction=self.query_instruction, prompt_name=self.prompt_name
        )
        vector: list[float] = vectors[0].tolist()
        return vector

    def embed_document_vectors(self, texts: list[str]) -> list[list[float]]:
        """Documents embedded as plain text, as lists."""
        vectors: list[list[float]] = self.embedder.embed_documents(texts).tolist()
        return vectors

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings, and an engine given that these settings do not rebuild (an
        ``Embedder`` pickles as its settings, a ``RemoteEmbedder`` as its URL). The copy loads
        or reuses the model on use."""
        state = BaseModel.__getstate__(self)
        rebuilt = getattr(self._engine, "settings", None) == self.settings
        state["__pydantic_private__"] = {
            **(state.get("__pydantic_private__") or {}),
            "_engine": None if rebuilt else self._engine,
        }
        return state
