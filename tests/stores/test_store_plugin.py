"""A store package outside harrier (examples/harrier-store-sqlite) plugs in through the
``harrier.stores`` entry point: it passes StoreContract and works from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harrier.stores import open_store, store_kinds
from harrier.testing import StoreContract

sqlite_store = pytest.importorskip(
    "harrier_store_sqlite", reason="pip install -e examples/harrier-store-sqlite (as .ci/run does)"
)


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_factory(self):
        return lambda collection, folder: sqlite_store.SqliteStore(
            collection, path=folder / "vectors.db"
        )

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, qwen_engine):
        return qwen_engine


def test_the_entry_point_names_the_kind(tmp_path):
    assert "sqlite" in store_kinds()
    store = open_store(f"sqlite:{tmp_path / 'v.db'}", "docs")
    assert isinstance(store, sqlite_store.SqliteStore) and store.path == tmp_path / "v.db"
    store.close()


def test_ingest_and_search_from_the_command_line(tmp_path, qwen_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rivers.md").write_text("Rivers carry water to the sea.\n")
    (tmp_path / "docs" / "stars.md").write_text("Stars burn hydrogen into helium.\n")
    common = ["--collection", "docs", "--store", "sqlite:vectors.db", "--model", str(qwen_path)]

    def harrier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harrier.cli", *args, *common, "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    ingest = harrier("ingest", "docs")
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["documents"] == 2
    assert Path(tmp_path / "vectors.db").is_file()
    search = harrier("search", "water", "-k", "2")
    assert search.returncode == 0, search.stderr
    hits = [json.loads(line) for line in search.stdout.splitlines()]
    assert {hit["doc_id"] for hit in hits} == {"rivers.md", "stars.md"}
    texts = {hit["doc_id"]: hit["text"] for hit in hits}
    assert texts["stars.md"].startswith("Stars burn hydrogen")  # stored and read back exactly
    again = harrier("ingest", "docs")
    assert json.loads(again.stdout)["unchanged"] == 2
