"""``ModelIdentity``: a fingerprint that follows the weights, read without loading them."""

from __future__ import annotations

import io
import json
import pickle
import shutil

import harrier
from harrier._identity import _safetensors_digest, folder_fingerprint, hub_snapshot
from harrier.testing import build_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_copies_share_a_fingerprint_other_weights_do_not(tmp_path, qwen_path, model_dir):
    copy = shutil.copytree(qwen_path, tmp_path / "copy")
    assert folder_fingerprint(copy) == folder_fingerprint(qwen_path)
    other = build_model(tmp_path / "other", "tiny-qwen3", seed=1)
    assert folder_fingerprint(other) != folder_fingerprint(qwen_path)
    assert folder_fingerprint(model_dir["tiny-gemma3"]) != folder_fingerprint(qwen_path)
    mean = model_dir["tiny-qwen3-mean"]  # same weights, other pooling: other vectors
    assert folder_fingerprint(mean) != folder_fingerprint(qwen_path)


def test_padding_side_and_transformers_version_do_not_count(tmp_path, qwen_path, model_dir):
    assert folder_fingerprint(model_dir["tiny-qwen3-left"]) == folder_fingerprint(qwen_path)
    copy = shutil.copytree(qwen_path, tmp_path / "resaved")
    config = json.loads((copy / "config.json").read_text())
    config["transformers_version"] = "0.0.1"
    (copy / "config.json").write_text(json.dumps(config, indent=4))
    assert folder_fingerprint(copy) == folder_fingerprint(qwen_path)


def test_one_changed_tensor_changes_the_fingerprint(tmp_path, qwen_path):
    from safetensors.torch import load_file, save_file

    copy = shutil.copytree(qwen_path, tmp_path / "tuned")
    tensors = load_file(copy / "model.safetensors")
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert folder_fingerprint(copy) != folder_fingerprint(qwen_path)


class _CountingReader(io.FileIO):
    read_bytes = 0

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = super().read(size)
        _CountingReader.read_bytes += len(data)
        return data


def test_a_large_weight_file_is_sampled_not_read(tmp_path):
    """A 4 GiB tensor (a sparse file) costs the header and three 4 KiB samples."""
    size = 4 * 2**30
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [size // 4], "data_offsets": [0, size]}}
    ).encode()
    path = tmp_path / "big.safetensors"
    with path.open("wb") as file:
        file.write(len(header).to_bytes(8, "little") + header)
        file.truncate(8 + len(header) + size)
    with _CountingReader(path) as reader:
        digest = _safetensors_digest(reader, path.stat().st_size)  # type: ignore[arg-type]
    assert len(digest) == 32
    assert _CountingReader.read_bytes == 8 + len(header) + 3 * 4096


def test_a_hub_snapshot_folder_is_the_hub_model(tmp_path, qwen_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--harrier-test--tiny"
    snapshot = shutil.copytree(qwen_path, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    by_id = harrier.Embedder.from_pretrained(
        "harrier-test/tiny", local_files_only=True, device="cpu"
    ).identity
    by_path = harrier.Embedder.from_pretrained(snapshot, device="cpu").identity
    assert (
        by_id
        == by_path
        == harrier.ModelIdentity("harrier-test/tiny", folder_fingerprint(qwen_path), COMMIT)
    )
    assert hub_snapshot(qwen_path) is None
    assert str(by_id).startswith("harrier-test/tiny@0123456789ab (")


def test_identity_is_a_small_picklable_record(qwen_path):
    identity = harrier.Embedder.from_pretrained(qwen_path, device="cpu").identity
    assert identity.name == str(qwen_path) and len(identity.fingerprint or "") == 64
    assert pickle.loads(pickle.dumps(identity)) == identity
    assert harrier.ModelIdentity.from_record(identity.to_record()) == identity
    old = harrier.ModelIdentity.from_record({"model": str(qwen_path)})
    assert old.fingerprint is None and old.same_model(identity)
    assert not harrier.ModelIdentity("x", identity.fingerprint).same_model(
        harrier.ModelIdentity("x", "0" * 64)
    )
