"""The ``Embedder``: texts in, L2-normalised float32 vectors out, exactly as the reference."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from harrier import _forward, _packing
from harrier._batching import size_bounded, token_budget_batches
from harrier._errors import (
    ConfigurationError,
    EmptyTextError,
    InputError,
    InputTypeError,
    NonFiniteEmbeddingError,
    TextTooLongError,
)
from harrier._graphs import GraphedRunner
from harrier._identity import ModelIdentity, model_identity
from harrier._loading import LoadedModel, load_model, resolve_device, resolve_dtype
from harrier._model_files import HARRIER_RETRIEVAL_PROMPT, model_folder, query_prompt
from harrier._replicas import spread
from harrier._settings import DEFAULT_MODEL, EmbedderSettings
from harrier._tokens import checked_texts, encode

logger = logging.getLogger("harrier")


class Embedder:
    """Embeds documents and queries with a Harrier (or any last-token / mean-pooled) model.

    Build one with :meth:`from_pretrained` or :meth:`from_settings`. Embedders of the same model,
    device and dtype share one loaded model, so settings can differ without paying for the
    weights twice. The engine schedules (tokenise, check, batch by token budget, restore order);
    the forward pass itself is in ``harrier._forward``.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        settings: EmbedderSettings,
        replicas: Sequence[LoadedModel] = (),
    ) -> None:
        self._loaded = loaded
        self._replicas = [loaded, *(r for r in replicas if r is not loaded)]
        """One loaded model per device (``settings.devices``); the first is ``_loaded``."""
        self._settings = settings
        self.model_name = settings.model
        if settings.max_tokens is not None and settings.max_tokens > loaded.limit:
            raise ConfigurationError(
                f"max_tokens={settings.max_tokens} must be between 1 and the model's limit "
                f"{loaded.limit}"
            )
        self.max_tokens: int = settings.max_tokens or loaded.limit
        self.truncate = settings.truncate
        default_budget = 65_536 if loaded.device.type == "cuda" else 8_192
        self.max_batch_tokens: int = settings.max_batch_tokens or default_budget
        self.show_progress = settings.show_progress
        wanted = settings.prefix_cache
        if wanted is None:  # measured: a win on CPU, slower than the plain path on an H200
            wanted = loaded.device.type == "cpu"
        self.prefix_cache = wanted and loaded.files.pooling == "lasttoken"
        self.packing = _packing_for(loaded, settings.packing)
        graphable = (
            loaded.device.type == "cuda"
            and loaded.causal
            and settings.quantization is None
            and settings.device_map is None
        )
        if settings.cuda_graphs and not graphable:
            raise ConfigurationError(
                "cuda_graphs=True needs a causal model on one CUDA device, without quantization "
                "or device_map; use cuda_graphs=None"
            )
        self._graphs: dict[int, GraphedRunner] = {}
        # Measured on an H200: batch-1 queries 5-6x faster (4.3 vs 21.7 ms, 270m shape).
        self.cuda_graphs = graphable if settings.cuda_graphs is None else settings.cuda_graphs
        if settings.compile and not graphable:
            raise ConfigurationError(
                "compile=True runs the forward under torch.compile on CUDA devices: it needs "
                "a causal model on one CUDA device per replica, without quantization or "
                "device_map; use compile=False"
            )
        self._compiled: dict[int, _forward.Model] = {}
        self._identity: ModelIdentity | None = None

    @classmethod
    def from_settings(cls, settings: EmbedderSettings) -> Embedder:
        """Load the model ``settings`` name (a Hub id or a local folder), sharing loaded weights."""
        folder = model_folder(
            settings.model, revision=settings.revision, local_files_only=settings.local_files_only
        )
        devices = [resolve_device(d) for d in settings.devices or (settings.device,)]
        replicas = [
            load_model(
                folder,
                device=device,
                dtype=resolve_dtype(settings.dtype, device),
                trust_remote_code=settings.trust_remote_code,
                attn_implementation=settings.attn_implementation,
                quantization=settings.quantization,
                device_map=settings.device_map,
            )
            for device in devices
        ]
        return cls(replicas[0], settings, replicas)

    @classmethod
    def from_pretrained(cls, model: str | Path = DEFAULT_MODEL, **settings: Any) -> Embedder:
        """Load ``model`` (a Hub id or a local folder); keywords are :class:`EmbedderSettings`
        fields (``device``, ``devices``, ``dtype``, ``max_tokens``, ``truncate``,
        ``max_batch_tokens``, ``prefix_cache``, ``packing``, ``revision``...).

        ``device``/``dtype`` default to CUDA + bfloat16 when a GPU is present, else CPU +
        float32. ``max_tokens`` defaults to the model's limit (32,768 for Harrier); longer texts
        raise ``TextTooLongError`` unless ``truncate=True``.
        """
        return cls.from_settings(EmbedderSettings(model=model, **settings))  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[Any, tuple[EmbedderSettings]]:
        """Pickle as the settings: the copy loads the model (or reuses it, in this process)."""
        return (Embedder.from_settings, (self._settings,))

    def __repr__(self) -> str:
        return f"Embedder({self.model_name!r}, device={str(self.device)!r})"

    @property
    def settings(self) -> EmbedderSettings:
        """The settings this embedder was built from (picklable: rebuild it elsewhere)."""
        return self._settings

    @property
    def identity(self) -> ModelIdentity:
        """Which weights this is (name and fingerprint), as vector stores record it."""
        if self._identity is None:
            self._identity = model_identity(self.model_name, self._loaded.files.folder)
        return self._identity

    # -- what the model is ---------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        """Length of every embedding vector."""
        return self._loaded.dimension

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """The model's own tokenizer (used as is: its special tokens are the model's)."""
        return self._loaded.tokenizer

    @property
    def tokenizer_lock(self) -> threading.Lock:
        """Hold it while calling :attr:`tokenizer` from several threads (fast tokenizers fail
        with "Already borrowed" when two threads change truncation at once)."""
        return self._loaded.tokenizer_lock

    @property
    def device(self) -> torch.device:
        return self._loaded.device

    @property
    def dtype(self) -> torch.dtype:
        return self._loaded.dtype

    @property
    def prompts(self) -> dict[str, str]:
        """The named query prompts the model ships (``config_sentence_transformers.json``)."""
        return dict(self._loaded.files.prompts)

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        """The text put before every query.

        ``instruction`` gives ``Instruct: {instruction}\\nQuery: ``; ``prompt_name`` the model's
        named prompt unchanged; neither gives the model's default or ``web_search_query`` prompt,
        else Harrier's retrieval instruction.
        """
        files = self._loaded.files
        default = files.prompts.get(
            files.default_prompt_name or "web_search_query", HARRIER_RETRIEVAL_PROMPT
        )
        return query_prompt(files.prompts, default, instruction, prompt_name)

    # -- embedding -----------------------------------------------------------------------------
    def embed_documents(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> np.ndarray:
        """Embed documents as plain text (never with an instruction)."""
        return self._embed(checked_texts(texts), show_progress)

    def embed_queries(
        self,
        texts: Sequence[str],
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed queries, each prefixed with the query prompt (see :meth:`query_prompt`)."""
        prompt = self.query_prompt(instruction, prompt_name)
        full = [prompt + text for text in checked_texts(texts)]
        return self._embed(full, show_progress, prompt if self.prefix_cache else None)

    def embed_token_ids(
        self,
        rows: Sequence[Sequence[int] | np.ndarray],
        *,
        prompt: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed texts given as token ids, special tokens included, as :meth:`token_ids` gives
        them (``Span.token_ids`` are such rows): the vectors :meth:`embed_documents` gives for
        the texts, without tokenising again. Rows of queries encoded as ``prompt + text`` may
        name that ``prompt``, so those that start with its ids reuse its cached prefix (the
        vectors :meth:`embed_queries` gives). Never truncates: a row over ``max_tokens`` raises
        ``TextTooLongError``, ids outside the vocabulary ``InputError``."""
        if isinstance(rows, np.ndarray) and rows.ndim == 1:
            raise InputTypeError(
                None, rows, expected="a list of id rows", hint="pass [ids], not a single row"
            )
        ids = [_id_row(i, row, self._loaded.vocab_rows) for i, row in enumerate(rows)]
        self._refuse(ids)
        return self._embed_ids(ids, show_progress, prompt if self.prefix_cache else None)

    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The token ids (``int32``, special tokens included, never truncated) that
        :meth:`embed_documents` runs for each text."""
        return self._tokenize(checked_texts(texts))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of documents, special tokens included: exactly what the model sees."""
        return [len(ids) for ids in self.token_ids(texts)]

    def _tokenize(self, texts: list[str]) -> list[np.ndarray]:
        with self._loaded.tokenizer_lock:
            return encode(self.tokenizer, texts)

    def _refuse(self, ids: Sequence[np.ndarray]) -> None:
        """Raise for the first row over ``max_tokens``, else for the first of special tokens
        only."""
        for i, row in enumerate(ids):
            if len(row) > self.max_tokens:
                raise TextTooLongError(i, len(row), self.max_tokens)
        for i, row in enumerate(ids):
            if np.isin(row, self._loaded.special_array).all():
                raise EmptyTextError(i)

    def _prepare(self, texts: list[str]) -> list[np.ndarray]:
        """Tokenise, truncate when asked, and refuse over-long and empty texts."""
        ids = self._tokenize(texts)
        too_long = [i for i, row in enumerate(ids) if len(row) > self.max_tokens]
        if too_long and self.truncate:
            with self._loaded.tokenizer_lock:
                cut = self.tokenizer(
                    [texts[i] for i in too_long],
                    add_special_tokens=True,
                    truncation=True,
                    max_length=self.max_tokens,
                )["input_ids"]
            for i, row in zip(too_long, cut, strict=True):
                ids[i] = np.array(row, dtype=np.int32)
            logger.warning(
                "truncated %d of %d texts to %d tokens (truncate=True)",
                len(too_long),
                len(texts),
                self.max_tokens,
            )
        self._refuse(ids)
        return ids

    def batch_plan(self, lengths: Sequence[int], *, shared_prefix: int = 0) -> list[list[int]]:
        """How rows of these token ``lengths`` are batched (indices into ``lengths``): packed,
        consecutive rows up to ``max_batch_tokens`` real tokens; padded, by
        ``token_budget_batches`` (similar lengths together, padding bounded)."""
        if self.packing and not shared_prefix:
            order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
            return list(size_bounded(order, lambda i: lengths[i], self.max_batch_tokens))
        return token_budget_batches(lengths, self.max_batch_tokens, shared_prefix=shared_prefix)

    @property
    def devices(self) -> list[torch.device]:
        """The device of each model replica (one unless ``devices`` was given)."""
        return [replica.device for replica in self._replicas]

    def _runner(self, replica: int, prompt: str | None) -> _forward.Runner:
        """The runner of one replica: after ``prompt``'s cached prefix, or for whole rows
        (packed or padded batches; small ones replayed from CUDA graphs when asked)."""
        loaded = self._replicas[replica]
        if prompt is not None:
            entry = loaded.prefix_cache.get(prompt)
            if entry is None:  # cannot be: the first replica, same tokenizer, found one
                raise RuntimeError(f"no cached prefix on the replica on {loaded.device}")
            return _forward.cached_runner(loaded, entry)
        # compile=True: packed batches and graphs run the compiled forward; padded ones do not
        # (the windowed attention's blocks would recompile it for every length).
        model = self._compiled_model(replica) if self._settings.compile else None
        if self.packing:
            whole = _forward.packed_runner(loaded, model)
        else:
            whole = _forward.plain_runner(loaded)
        if not self.cuda_graphs:
            return whole
        if replica not in self._graphs:
            self._graphs[replica] = GraphedRunner(loaded, whole, model=model)
        return self._graphs[replica]

    def _compiled_model(self, replica: int) -> _forward.Model:
        """The replica's model under ``torch.compile``, made once; it compiles at its first
        calls: for packed batches, and for the graphs' shapes."""
        if replica not in self._compiled:
            logger.info("compile=True: the forward compiles at its first batches (tens of seconds)")
            model = self._replicas[replica].model
            self._compiled[replica] = _forward.compiled(model, len(self._replicas))
        return self._compiled[replica]

    def _embed(
        self, texts: list[str], show_progress: bool | None, prompt: str | None = None
    ) -> np.ndarray:
        """Embed texts; those starting with ``prompt``'s cached prefix reuse it."""
        return self._embed_ids(self._prepare(texts), show_progress, prompt)

    def _embed_ids(
        self, ids: list[np.ndarray], show_progress: bool | None, prompt: str | None = None
    ) -> np.ndarray:
        """Embed checked id rows, in batches by token budget (spread over the replicas),
        restoring their order."""
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        if not ids:
            return out
        entry = self._loaded.prefix_cache.get(prompt) if prompt is not None else None
        plain = list(range(len(ids)))
        cached: list[int] = []
        if entry is not None:
            size = len(entry.ids)
            cached = [i for i in plain if tuple(ids[i][:size].tolist()) == entry.ids]
            plain = sorted(set(plain) - set(cached))
        skip = len(entry.ids) if entry is not None else 0
        jobs: list[tuple[list[int], str | None]] = []  # (rows, the cached prompt or None)
        for group, key in ((plain, None), (cached, prompt)):
            lengths = [len(ids[i]) - (skip if key else 0) for i in group]
            for batch in self.batch_plan(lengths, shared_prefix=skip if key else 0):
                jobs.append(([group[j] for j in batch], key))
        runners: dict[tuple[int, str | None], _forward.Runner] = {}
        progress = self.show_progress if show_progress is None else show_progress
        lock = threading.Lock()  # runners and the bar, shared by the replicas' threads
        with tqdm(total=len(ids), desc="Embedding", unit="text", disable=not progress) as bar:

            def run(job: tuple[list[int], str | None], replica: int) -> None:
                rows, key = job
                with lock:
                    if (replica, key) not in runners:
                        runners[replica, key] = self._runner(replica, key)
                    runner = runners[replica, key]
                start = skip if key else 0
                device = self._replicas[replica].device
                out[rows] = _forward.run_batch([ids[i][start:] for i in rows], runner, device)
                with lock:
                    bar.update(len(rows))

            costs = [sum(len(ids[i]) for i in rows) for rows, _ in jobs]
            spread(jobs, costs, run, [str(d) for d in self.devices])
        finite = np.isfinite(out).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite).tolist()
            dtype = str(self.dtype).removeprefix("torch.")
            raise NonFiniteEmbeddingError(bad[0], len(ids), dtype, bad)
        return out


def _packing_for(loaded: LoadedModel, wanted: bool | None) -> bool:
    """Whether to pack batches: as asked, else where variable-length flash attention runs."""
    if wanted is None:
        return (
            loaded.packable
            and loaded.device.type == "cuda"
            and loaded.dtype in (torch.bfloat16, torch.float16)
            and _packing.varlen_available()
        )
    if wanted and not loaded.packable:
        raise ConfigurationError(
            f"packing=True needs a causal gemma3_text or qwen3 model on SDPA attention; this is "
            f"a {loaded.model_type!r} model"
            + (
                " loaded with another attn_implementation"
                if loaded.model_type in _packing.PACKABLE_MODELS
                else ""
            )
            + "; use packing=None or False"
        )
    return wanted


def _id_row(index: int, row: Sequence[int] | np.ndarray, vocab_rows: int) -> np.ndarray:
    """One row of token ids as ``int32``, checked against the model's vocabulary."""
    if isinstance(row, str):
        raise InputTypeError(
            index,
            row,
            expected="a list of int",
            hint="token ids are a list of ints; embed texts with embed_documents",
        )
    array = np.asarray(row)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise InputTypeError(index, row, expected="a flat list of int")
    if array.size and (array.min() < 0 or array.max() >= vocab_rows):
        raise InputError(
            f"token ids at index {index} fall outside the model's vocabulary (0 to "
            f"{vocab_rows - 1}); use ids from this embedder's tokenizer"
        )
    return array.astype(np.int32, copy=False)
