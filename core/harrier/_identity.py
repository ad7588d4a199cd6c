"""``ModelIdentity``: which weights made a vector, whatever path or name they were loaded by.

A collection records the identity of the model that filled it, and later writers are compared by
fingerprint, not by the string they passed: ``./m``, ``/abs/path/m``, a copy of the folder and
the Hub id of a cached snapshot are one model; other weights saved under the same name are not.

The fingerprint is a SHA-256 over what decides the vectors, read without loading the weights:

- ``config.json`` (without ``transformers_version``), the tokenizer's vocabulary
  (``tokenizer.json`` / ``tokenizer.model``), ``modules.json`` and each module's ``config.json``
  (the pooling);
- for each ``*.safetensors`` file: its name, its size, its JSON header (every tensor's name,
  dtype, shape and offsets), and three 4 KiB samples of every tensor's bytes (start, middle,
  end).

So it reads 12 KiB per tensor, not the weights (about 10 MB of a 54 GB model). A fine-tune
changes every value of the tensors it touches, so any changed tensor changes the fingerprint;
an edit confined to the unsampled middle of one tensor would not (the price of not reading
whole files).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

_SAMPLE = 4096
_VOCABULARY_FILES = ("tokenizer.json", "tokenizer.model", "modules.json")


@dataclass(frozen=True)
class ModelIdentity:
    """A model's display ``name`` (Hub id, or the folder as given), its weights' ``fingerprint``
    and, for a Hub snapshot, the resolved commit (``revision``).

    ``fingerprint`` is None only for identities read from collections written by an older harrier,
    which recorded the name alone.
    """

    name: str
    fingerprint: str | None
    revision: str | None = None

    def same_model(self, other: ModelIdentity) -> bool:
        """Same fingerprint; the same name when either side has no fingerprint (old records)."""
        if self.fingerprint is None or other.fingerprint is None:
            return self.name == other.name
        return self.fingerprint == other.fingerprint

    def to_record(self) -> dict[str, str]:
        """String fields a store records (``model``, ``model_fingerprint``, ``model_revision``)."""
        fields = {
            "model": self.name,
            "model_fingerprint": self.fingerprint,
            "model_revision": self.revision,
        }
        return {key: value for key, value in fields.items() if value is not None}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ModelIdentity:
        """The identity :meth:`to_record` wrote; an old record has only ``model``."""
        fingerprint, revision = record.get("model_fingerprint"), record.get("model_revision")
        return cls(
            str(record["model"]),
            None if fingerprint is None else str(fingerprint),
            None if revision is None else str(revision),
        )

    @classmethod
    def from_folder(cls, model: str, folder: str | Path) -> ModelIdentity:
        """The identity of the weights in ``folder``, loaded as ``model`` (a Hub id or the path
        as given): what harrier's own engine records for the same files."""
        return model_identity(model, Path(folder))

    def __str__(self) -> str:
        short = f" ({self.fingerprint[:12]})" if self.fingerprint else ""
        at = f"@{self.revision[:12]}" if self.revision else ""
        return f"{self.name}{at}{short}"


def model_identity(model: str, folder: Path) -> ModelIdentity:
    """The identity of ``model`` (as the user gave it), whose files are in ``folder``."""
    hub = hub_snapshot(folder)
    name, revision = hub if hub is not None else (model, None)
    return ModelIdentity(name, folder_fingerprint(folder), revision)


def hub_snapshot(folder: Path) -> tuple[str, str] | None:
    """(repo id, commit) when ``folder`` is ``.../models--org--name/snapshots/<commit>``."""
    parts = Path(folder).absolute().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--") :].replace("--", "/"), parts[-1]
    return None


def folder_fingerprint(folder: Path) -> str:
    """SHA-256 of the configuration, vocabulary and sampled weights of ``folder`` (see above)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        for part in (label.encode(), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.pop("transformers_version", None)
    add("config.json", json.dumps(config, sort_keys=True).encode())
    for name in _VOCABULARY_FILES:
        if (folder / name).is_file():
            add(name, (folder / name).read_bytes())
    for path in sorted(folder.glob("*/config.json")):
        add(path.relative_to(folder).as_posix(), path.read_bytes())
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as file:
            add(path.name, _safetensors_digest(file, path.stat().st_size))
    return digest.hexdigest()


def _safetensors_digest(file: BinaryIO, size: int) -> bytes:
    """Size, header and start/middle/end samples of every tensor of one safetensors file."""
    header_size = int.from_bytes(file.read(8), "little")
    header = file.read(header_size)
    digest = hashlib.sha256(size.to_bytes(8, "big") + header)
    base = 8 + header_size
    tensors = {k: v for k, v in json.loads(header).items() if k != "__metadata__"}
    for name in sorted(tensors):
        begin, end = tensors[name]["data_offsets"]
        middle = (begin + end) // 2
        for start in (begin, max(begin, middle - _SAMPLE // 2), max(begin, end - _SAMPLE)):
            file.seek(base + start)
            digest.update(file.read(min(_SAMPLE, end - start)))
    return digest.digest()
