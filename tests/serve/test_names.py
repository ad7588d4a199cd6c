"""Served model names: the Hub id of a local snapshot or config by default, repeatable aliases."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import httpx
import pytest

import harrier
from harrier._serve_command import add_serve_parser
from harrier.serve._names import default_names
from harrier.testing import serve_in_thread

HUB_ID = "microsoft/harrier-oss-v1-270m"


def test_a_hub_snapshot_folder_is_served_under_its_hub_id(qwen_path: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "models--microsoft--harrier-oss-v1-270m" / "snapshots" / "0123abc"
    shutil.copytree(qwen_path, snapshot)
    engine = harrier.Embedder.from_pretrained(snapshot, device="cpu", dtype="float32")
    with serve_in_thread(engine) as url:
        ids = [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
        assert ids[:3] == [HUB_ID, f"{HUB_ID}:query", f"{HUB_ID}:document"]
        assert str(snapshot) in ids  # the folder as given still works
        # the README's OpenAI-client call, against a local folder
        answer = httpx.post(f"{url}/v1/embeddings", json={"input": "x", "model": HUB_ID})
        assert answer.status_code == 200 and answer.json()["model"] == HUB_ID


def test_a_config_naming_a_hub_id_names_the_folder(qwen_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    shutil.copytree(qwen_path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "_name_or_path": HUB_ID}))
    assert default_names(folder) == [HUB_ID, str(folder)]
    (folder / "config.json").write_text(json.dumps({**config, "_name_or_path": str(tmp_path)}))
    assert default_names(folder) == [str(folder)]  # a path is not a Hub id
    assert default_names("org/model") == ["org/model"]


def test_aliases_repeat_and_each_selects_its_input_type(
    engine: harrier.Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--served-model-name", "a", "--served-model-name", "b"])
    assert args.served_model_name == ["a", "b"]
    with serve_in_thread(engine, served_names=args.served_model_name) as url:
        ids = [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
        assert ids == ["a", "a:query", "a:document", "b", "b:query", "b:document"]
        query = httpx.post(f"{url}/v1/embeddings", json={"input": "x", "model": "b:query"})
        assert query.status_code == 200
        assert query.json()["data"][0]["embedding"] == pytest.approx(
            engine.embed_queries(["x"])[0].tolist(), abs=1e-6
        )
        assert httpx.get(f"{url}/info").json()["model_id"] == "a"
