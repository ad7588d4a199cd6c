"""``ConverterContract``: what every converter a package adds must do, as a pytest base class.

A converter package subclasses it in its tests and provides two fixtures::

    from harrier.testing import ConverterContract

    class TestMyConverter(ConverterContract):
        @pytest.fixture
        def converter(self):
            return my_package.CONVERTER

        @pytest.fixture
        def samples(self, tmp_path):
            return {write_sample(tmp_path / "a.myf"): ["A sentence the text must hold."]}

``samples`` maps files of the format (written by the format's own tools where there are any)
to sentences each one's text must hold. The contract checks the registration through the
``harrier.converters`` entry point, detection in a folder, conversion in harrier's worker
process to storable text, damaged and empty files (a reason, never a crash: the next file
still converts), and ingestion with its re-run, with a tiny random model (override the
``embedder`` fixture to share one). See docs/writing-a-converter.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harrier
from harrier.sources._documents import Skipped, SourceDocument, SourceItem, iter_source
from harrier.sources._validation import storage_problem
from harrier.sources.convert import (
    CONVERTERS,
    ConvertedFile,
    Converter,
    FileConverter,
    Unconvertible,
)
from harrier.sources.convert._registry import BY_EXTENSION

EDITS = st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=4)),
    min_size=1,
    max_size=4,
)
"""Edits of a file (hypothesis): at each place (a share of its length), bytes in for one."""
KEEP = st.one_of(st.just(1.0), st.floats(0.05, 1))
"""The share of a file kept: mostly whole (a file cut short is often refused at once)."""


def damage(data: bytes, edits: list[tuple[float, bytes]], keep: float) -> bytes:
    """``data`` with ``edits`` made (:data:`EDITS`) and cut to ``keep`` of it (:data:`KEEP`)."""
    damaged = bytearray(data)
    for where, replacement in edits:
        at = int(where * len(damaged))
        damaged[at : at + 1] = replacement
    return bytes(damaged[: max(1, int(keep * len(damaged)))])


def check_converted_or_skipped(item: SourceItem, worker: FileConverter) -> None:
    """What a damaged file may become: storable text (pages in order), read as text that is
    storable as it is, or a skip with its reason; never another exception."""
    if isinstance(item, ConvertedFile):
        try:
            text, metadata, pages = worker.convert(item)
        except Unconvertible as exc:
            assert str(exc)
        else:
            assert storage_problem(item.id, text, metadata) is None
            assert list(pages) == sorted(pages) and all(0 <= p <= len(text) for p in pages)
    elif isinstance(item, SourceDocument):
        assert storage_problem(item.id, item.text, item.metadata) is None
    else:
        assert isinstance(item, Skipped) and item.reason, item


class ConverterContract:
    """The converter behaviour tests; subclass it and provide ``converter`` and ``samples``."""

    @pytest.fixture
    def converter(self) -> Converter:
        """The package's :class:`Converter`: the subclass provides it."""
        raise NotImplementedError("a ConverterContract subclass provides the converter fixture")

    @pytest.fixture
    def samples(self, tmp_path: Path) -> dict[Path, list[str]]:
        """Files of the format and the sentences each must hold: the subclass provides them."""
        raise NotImplementedError("a ConverterContract subclass provides the samples fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, tmp_path_factory: pytest.TempPathFactory) -> harrier.Embedder:
        """A tiny random Qwen3-shaped model (override to share one across test classes)."""
        from harrier.testing import tiny_embedder

        return tiny_embedder(tmp_path_factory.mktemp("contract-model"))

    @pytest.fixture
    def worker(self) -> Iterator[FileConverter]:
        converter = FileConverter(timeout=60.0)
        yield converter
        converter.close()

    def test_the_entry_point_registers_it_under_its_extensions(self, converter: Converter):
        assert CONVERTERS.get(converter.format) == converter, (
            f"no harrier.converters entry point gives {converter.format!r}: declare one in "
            "pyproject.toml and install the package"
        )
        assert all(BY_EXTENSION[ext.lower()] == converter.format for ext in converter.extensions)
        assert converter.missing() is None, "a module it requires is not installed"
        assert not converter.identity.endswith(" unknown"), (
            f"name={converter.name!r} must be the installed distribution's name: its version "
            "goes into each file's hash, so that an upgrade converts files again"
        )

    def test_a_folder_of_samples_gives_files_of_its_format(self, converter, samples):
        folders = {path.parent for path in samples}
        found = {
            item.path: item.format
            for folder in folders
            for item in iter_source(folder)
            if isinstance(item, ConvertedFile)
        }
        assert {path: found.get(path) for path in samples} == dict.fromkeys(
            samples, converter.format
        )

    def test_samples_convert_in_the_worker_to_storable_text(self, converter, samples, worker):
        for path, sentences in samples.items():
            [item] = iter_source(path)
            assert isinstance(item, ConvertedFile), item
            text, metadata, pages = worker.convert(item)
            for sentence in sentences:
                assert sentence in text, (path.name, sentence)
            assert storage_problem(item.id, text, metadata) is None
            assert metadata["format"] == converter.format and metadata["title"]
            assert list(pages) == sorted(pages) and all(0 <= p <= len(text) for p in pages)

    def test_an_empty_file_is_skipped_with_a_reason(self, converter, tmp_path, worker):
        empty = tmp_path / f"empty{converter.extensions[0]}"
        empty.write_bytes(b"")
        [item] = iter_source(empty)
        if isinstance(item, ConvertedFile):
            with pytest.raises(Unconvertible) as skipped:
                worker.convert(item)
            assert str(skipped.value)
        else:
            assert isinstance(item, Skipped) and item.reason

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(edits=EDITS, keep=KEEP)
    def test_damaged_files_convert_or_skip_and_the_next_converts(
        self, converter, samples, worker, tmp_path_factory, edits, keep
    ):
        first, *_ = samples
        damaged = tmp_path_factory.mktemp("damaged") / first.name
        damaged.write_bytes(damage(first.read_bytes(), edits, keep))
        [item] = iter_source(damaged)
        check_converted_or_skipped(item, worker)
        [again] = iter_source(first)
        assert isinstance(again, ConvertedFile)
        assert samples[first][0] in worker.convert(again)[0]  # the worker goes on

    def test_ingestion_stores_its_files_and_a_rerun_converts_none(
        self, converter, samples, embedder, tmp_path
    ):
        from harrier_qdrant import QdrantStore

        folder = tmp_path / "folder"
        folder.mkdir()
        for number, path in enumerate(samples):
            (folder / f"{number}-{path.name}").write_bytes(path.read_bytes())
        store = QdrantStore("contract", path=tmp_path / "store")
        try:
            report = harrier.ingest(folder, store, embedder)
            assert (report.documents, report.skipped) == (len(samples), 0), report.skips
            for doc_id in store.iter_doc_ids():
                spans = store.fetch_spans(doc_id)
                assert {s.metadata["format"] for s in spans} == {converter.format}
            again = harrier.ingest(folder, store, embedder)
            assert (again.unchanged, again.spans_written) == (len(samples), 0)
        finally:
            store.close()
