"""``RemoteEmbedder``: the ``Embedder`` interface over a ``harrier serve`` server.

Vectors come from the server (base64 float32, so bit-exact); only the tokenizer is loaded here,
for span splitting, from the server's ``/tokenizer`` files (or from ``tokenizer=``, a model id or
folder), which also counts tokens. Requests are sent in chunks that fit
the server's limits; 429/503 answers are retried after their ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from harrier._errors import (
    EmbeddingServerError,
    EmptyTextError,
    InputError,
    TextTooLongError,
)
from harrier._identity import ModelIdentity
from harrier._model_files import query_prompt
from harrier._tokens import checked_texts

_RETRIES = 5


class RemoteEmbedder:
    """Embeds through a ``harrier serve`` server at ``url``, like a local ``Embedder``.

    ``api_key`` is sent as a Bearer token. ``tokenizer`` (a model id or folder, or a loaded
    tokenizer) replaces the server's tokenizer files. ``chunk_texts`` texts at most go in one
    request (larger requests are split further when the server finds them too big).
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        tokenizer: Any = None,
        timeout: float = 600.0,
        chunk_texts: int = 256,
        show_progress: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.show_progress = show_progress
        self._tokenizer_source = tokenizer
        self._tokenizer: Any = tokenizer if not isinstance(tokenizer, (str, Path)) else None
        info = self._request("GET", "/info")
        self.model_name: str = info["model_id"]
        self.identity = ModelIdentity(**info["identity"])
        """The served weights' identity (name and fingerprint), as vector stores record it."""
        self.dimension: int = int(info["dimension"])
        self.max_tokens: int = int(info["max_input_length"])
        self.prompts: dict[str, str] = dict(info["prompts"])
        self._default_prompt: str = info["default_query_prompt"]
        self.chunk_texts = max(1, min(chunk_texts, int(info["max_client_batch_size"])))

    def __repr__(self) -> str:
        return f"RemoteEmbedder({self.url!r}, model={self.model_name!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings; a tokenizer fetched from the server is fetched again."""
        state = dict(self.__dict__)
        if isinstance(self._tokenizer_source, (str, Path)) or self._tokenizer_source is None:
            state["_tokenizer"] = None
        return state

    # -- what the model is ---------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, loaded here on first use (for splitting texts into spans)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            if self._tokenizer_source is not None:
                self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_source)
            else:
                files = self._request("GET", "/tokenizer")["files"]
                with tempfile.TemporaryDirectory() as folder:
                    for name, text in files.items():
                        Path(folder, Path(name).name).write_text(text, encoding="utf-8")
                    self._tokenizer = AutoTokenizer.from_pretrained(folder)
        return self._tokenizer

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        """The text put before every query (same rules as ``Embedder.query_prompt``)."""
        return query_prompt(self.prompts, self._default_prompt, instruction, prompt_name)

    # -- embedding -----------------------------------------------------------------------------
    def embed_documents(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> np.ndarray:
        """Embed documents as plain text (never with an instruction)."""
        return self._embed(checked_texts(texts), {"input_type": "document"}, show_progress)

    def embed_queries(
        self,
        texts: Sequence[str],
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed queries with the query prompt (see :meth:`query_prompt`)."""
        self.query_prompt(instruction, prompt_name)  # typed errors before any request
        fields = {"input_type": "query", "instruction": instruction, "prompt_name": prompt_name}
        return self._embed(checked_texts(texts), fields, show_progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of documents, special tokens included (counted with :attr:`tokenizer`)."""
        items = checked_texts(texts)
        if not items:
            return []
        ids = self.tokenizer(items, add_special_tokens=True, truncation=False, verbose=False)
        return [len(row) for row in ids["input_ids"]]

    def _embed(
        self, texts: list[str], fields: dict[str, Any], show_progress: bool | None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        progress = self.show_progress if show_progress is None else show_progress
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for start in range(0, len(texts), self.chunk_texts):
                stop = min(start + self.chunk_texts, len(texts))
                out[start:stop] = self._embed_chunk(texts, start, stop, fields)
                bar.update(stop - start)
        return out

    def _embed_chunk(
        self, texts: list[str], start: int, stop: int, fields: dict[str, Any]
    ) -> np.ndarray:
        """One request for ``texts[start:stop]``; halves it when the server finds it too big."""
        body = {
            "input": texts[start:stop],
            "model": self.model_name,
            "encoding_format": "base64",
            **{k: v for k, v in fields.items() if v is not None},
        }
        try:
            answer = self._request("POST", "/v1/embeddings", body, offset=start)
        except EmbeddingServerError as exc:
            if exc.status != 413 or stop - start == 1:
                raise
            middle = (start + stop) // 2
            return np.concatenate(
                [
                    self._embed_chunk(texts, start, middle, fields),
                    self._embed_chunk(texts, middle, stop, fields),
                ]
            )
        rows = sorted(answer["data"], key=lambda row: row["index"])
        return np.stack(
            [np.frombuffer(base64.b64decode(row["embedding"]), dtype="<f4") for row in rows]
        ).astype(np.float32)

    # -- HTTP ----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: object = None, *, offset: int = 0) -> Any:
        """JSON in, JSON out; 429/503 retried after Retry-After, 4xx raised as typed errors."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in range(_RETRIES + 1):
            request = urllib.request.Request(self.url + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                error = _error_body(exc)
                if exc.code in (429, 503) and attempt < _RETRIES:
                    time.sleep(min(float(exc.headers.get("Retry-After") or 1), 30.0))
                    continue
                raise _typed(exc.code, error, offset, self.url) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise EmbeddingServerError(
                    f"cannot reach the harrier server at {self.url}: {reason}; is "
                    "`harrier serve` running there?"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        error = json.loads(exc.read()).get("error")
    except (ValueError, AttributeError):
        error = None
    return error if isinstance(error, dict) else {"message": exc.reason}


def _typed(status: int, error: dict[str, Any], offset: int, url: str) -> Exception:
    """The harrier error for an error answer (indices made relative to the caller's list)."""
    code, message = error.get("code"), str(error.get("message"))
    if code == "text_too_long":
        return TextTooLongError(offset + error["index"], error["token_count"], error["limit"])
    if code == "empty_text" and error.get("param", "").endswith("]"):
        return EmptyTextError(offset + int(error["param"].rsplit("[", 1)[1][:-1]))
    if status == 400:
        return InputError(message)
    hint = "; check api_key" if status == 401 else ""
    return EmbeddingServerError(f"harrier server {url} answered {status}: {message}{hint}", status)
