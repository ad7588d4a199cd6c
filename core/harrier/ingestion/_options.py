"""``IngestOptions``: every choice of an ingestion run, as one frozen, validated value.

``ingest``, ``ingest_on_ray``, ``Index.ingest`` and the ``harrier ingest`` command all take these
fields and nothing else; each field's command-line flag is declared next to it (``cli``
metadata), so the command's arguments and the library's keywords cannot drift apart. This
module imports neither torch nor a store, so the command's help stays fast.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harrier._errors import ConfigurationError
from harrier.sources._documents import LARGE_FILE_BYTES
from harrier.sources.convert import CONVERT_TIMEOUT

CPU_SPAN_TOKENS = 8192
"""The default span length when the engine runs here on a CPU: a default ingest stays under
2 GB (the 270m shape with 2 of its layers already peaks at 1.98 GB with 32,768-token spans,
1.18 GB with 8,192), and the global attention layers cost less per token. A GPU, a server
(``--embedder``) or ``max_tokens`` keep the model's full length."""


def _flag(*names: str, **argparse_options: Any) -> dict[str, Any]:
    return {"cli": (names, argparse_options)}


@dataclass(frozen=True)
class IngestOptions:
    """How one ingestion run reads, splits, reports and prunes (checked at construction).

    - ``max_tokens``: span length limit in tokens (None: the model's limit, or
      :data:`CPU_SPAN_TOKENS` for an engine on a CPU; 0 is refused); ``overlap_tokens``: tokens
      shared by consecutive spans.
    - ``prune``: delete the documents of the collection that are not in the source.
    - ``include`` / ``exclude``: ``.gitignore``-style patterns for a folder;
      ``follow_symlinks``: read symbolic links (never in a loop).
    - ``convert_timeout``: seconds one PDF, Office, HTML or EPUB file may take to convert.
    - ``large_file_bytes``: text files over this size are streamed in pieces.
    - ``skip_log``: a file that gets every skipped document and its reason (JSON lines).
    - ``sparse``: whether a collection the run creates gets BM25 vectors (where the run opens
      the store: the command line and ``ingest_on_ray``): None, where the store has them (a
      Milvus server before 2.5 writes dense-only, with one warning); True demands them (a store
      without BM25 refuses); False never.
    - ``show_progress``: a progress bar (None: when stderr is a terminal); without one, the
      ``harrier.progress`` logger gets an INFO line at least every ``progress_interval``
      seconds. ``quiet``: neither.
    - ``group_documents`` / ``group_chars``: what the stages take at a time (memory bound).
    """

    max_tokens: int | None = field(
        default=None,
        metadata=_flag(
            "--max-tokens",
            type=int,
            metavar="N",
            help="span length limit in tokens (default: the model's, 32768; on a CPU "
            f"{CPU_SPAN_TOKENS}, to stay under 2 GB; 512 to 2048 is much faster there)",
        ),
    )
    overlap_tokens: int = field(
        default=0,
        metadata=_flag(
            "--overlap-tokens",
            type=int,
            metavar="N",
            help="tokens shared by consecutive spans (default 0)",
        ),
    )
    prune: bool = field(
        default=False,
        metadata=_flag(
            "--prune", action="store_true", help="delete documents that are no longer in SOURCE"
        ),
    )
    sparse: bool | None = field(
        default=None,
        metadata=_flag(
            "--no-sparse",
            action="store_const",
            const=False,
            help="a new collection gets dense vectors only, no BM25 vectors "
            "(hybrid and sparse search then refuse it)",
        ),
    )
    include: tuple[str, ...] = field(
        default=(),
        metadata=_flag(
            "--include",
            action="append",
            metavar="GLOB",
            help="read only files matching this .gitignore-style pattern (repeatable), "
            "e.g. '*.pdf'",
        ),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=_flag(
            "--exclude",
            action="append",
            metavar="GLOB",
            help="skip files and folders matching this pattern (repeatable)",
        ),
    )
    follow_symlinks: bool = field(
        default=False,
        metadata=_flag(
            "--follow-symlinks",
            action="store_true",
            help="read symbolic links (never in a loop); default: skip them",
        ),
    )
    convert_timeout: float = field(
        default=CONVERT_TIMEOUT,
        metadata=_flag(
            "--convert-timeout",
            type=float,
            metavar="S",
            help=f"seconds one document may take to convert (default {CONVERT_TIMEOUT:g})",
        ),
    )
    large_file_bytes: int = field(
        default=LARGE_FILE_BYTES,
        metadata=_flag(
            "--large-file-bytes",
            type=int,
            metavar="N",
            help="stream text files larger than this in pieces "
            f"(default {LARGE_FILE_BYTES // 2**20} MiB)",
        ),
    )
    skip_log: str | Path | None = field(
        default=None,
        metadata=_flag(
            "--skip-log",
            metavar="FILE",
            help="write every skipped file and its reason to FILE (JSON lines)",
        ),
    )
    quiet: bool = field(
        default=False,
        metadata=_flag(
            "-q", "--quiet", action="store_true", help="no plan, progress bar or progress lines"
        ),
    )
    show_progress: bool | None = None
    progress_interval: float = field(
        default=10.0,
        metadata=_flag(
            "--progress-interval",
            type=float,
            metavar="S",
            help="seconds between two progress lines when stderr is not a terminal (default 10)",
        ),
    )
    group_documents: int = field(
        default=64,
        metadata=_flag(
            "--group-documents",
            type=int,
            metavar="N",
            help="documents each stage takes at a time (default 64; fewer: less memory, and "
            "less work lost to an interrupt)",
        ),
    )
    group_chars: int = 4_000_000

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            _positive_int("max_tokens", self.max_tokens)
        if not _is_int(self.overlap_tokens) or self.overlap_tokens < 0:
            raise ConfigurationError(
                f"overlap_tokens={self.overlap_tokens!r} must be a whole number, 0 or more"
            )
        if self.max_tokens is not None and self.overlap_tokens >= self.max_tokens:
            raise ConfigurationError(
                f"overlap_tokens={self.overlap_tokens} must be less than "
                f"max_tokens={self.max_tokens}"
            )
        for name in ("large_file_bytes", "group_documents", "group_chars"):
            _positive_int(name, getattr(self, name))
        for name in ("convert_timeout", "progress_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{name}={value!r} must be a number of seconds above 0")
        for name in ("include", "exclude"):
            value = getattr(self, name)
            patterns = (value,) if isinstance(value, str) else tuple(value or ())
            if not all(isinstance(p, str) for p in patterns):
                raise ConfigurationError(f"{name} must be glob patterns (strings), got {value!r}")
            object.__setattr__(self, name, patterns)
        if self.sparse is not None and not isinstance(self.sparse, bool):
            raise ConfigurationError("sparse must be True, False or None (where the store can)")
        for name in ("prune", "follow_symlinks", "quiet"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False")
        if self.show_progress is not None and not isinstance(self.show_progress, bool):
            raise ConfigurationError("show_progress must be True, False or None (a terminal)")
        if self.skip_log is not None and not isinstance(self.skip_log, (str, Path)):
            raise ConfigurationError(f"skip_log must be a file path, got {self.skip_log!r}")

    @classmethod
    def of(cls, options: IngestOptions | None = None, **changes: Any) -> IngestOptions:
        """``options`` (default: the defaults) with ``changes``; an unknown name is refused
        with the list of known ones, so a typo never passes silently."""
        unknown = sorted(set(changes) - OPTION_NAMES)
        if unknown:
            raise ConfigurationError(
                f"unknown ingest option(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(OPTION_NAMES))}"
            )
        return replace(options or cls(), **changes)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace | Mapping[str, Any]) -> IngestOptions:
        """The options given on the command line (parsed by :func:`add_arguments`)."""
        values = vars(args) if isinstance(args, argparse.Namespace) else args
        return cls(
            **{f.name: values[f.name] for f in fields(cls) if values.get(f.name) is not None}
        )


OPTION_NAMES = frozenset(f.name for f in fields(IngestOptions))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command-line flag of every option that has one."""
    for name, (flags, options) in _cli_fields():
        action = options.get("action")
        default: Any = None  # not given: from_arguments keeps the field's default
        if action == "append":
            default = []
        elif action is not None:  # a switch
            default = IngestOptions.__dataclass_fields__[name].default
        parser.add_argument(*flags, dest=name, default=default, **options)


def _cli_fields() -> Iterator[tuple[str, tuple[tuple[str, ...], dict[str, Any]]]]:
    for f in fields(IngestOptions):
        if "cli" in f.metadata:
            yield f.name, f.metadata["cli"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(name: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise ConfigurationError(
            f"{name}={value!r} must be a positive integer; zero never means the default"
        )
