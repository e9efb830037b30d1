"""The encoder adapter round-trips onto a model directory (no training, no download, no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kb.embed.adapter import AdapterError, apply_adapter, read_adapter, save_adapter, sidecar_path


def _tiny_model(folder: Path) -> dict[str, np.ndarray]:
    """A stand-in model directory: two BERT-named layers, embeddings, a tokenizer file."""
    rng = np.random.default_rng(0)
    state = {
        "embeddings.word_embeddings.weight": rng.standard_normal((10, 4)).astype(np.float32),
        **{f"encoder.layer.{i}.attention.self.query.{kind}": rng.standard_normal(shape).astype(np.float32)
           for i in (0, 1) for kind, shape in (("weight", (4, 4)), ("bias", (4,)))},
    }
    folder.mkdir()
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 2}), encoding="utf-8")
    (folder / "kb-conversion.json").write_text("{}", encoding="utf-8")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text("{}", encoding="utf-8")
    return state


def test_adapter_round_trip(tmp_path: Path) -> None:
    base = _tiny_model(tmp_path / "base")
    tuned = {k: v + 1.0 for k, v in base.items() if k.startswith("encoder.layer.1.")}
    adapter = save_adapter(tuned, tmp_path / "adapter.safetensors", {"base_model": "tiny", "layers": [1], "seed": 1})
    tensors, info = read_adapter(adapter)
    assert info["layers"] == [1] and info["base_model"] == "tiny"
    assert all(v.dtype == np.float32 for v in tensors.values())
    assert load_file(str(adapter))["encoder.layer.1.attention.self.query.bias"].dtype == np.float16

    out = apply_adapter(tmp_path / "base", adapter, tmp_path / "tuned")
    written = load_file(str(out / "model.safetensors"))
    assert set(written) == set(base)
    for key, value in base.items():
        expected = tuned[key].astype(np.float16).astype(np.float32) if key in tuned else value
        np.testing.assert_array_equal(written[key], expected)
    assert (out / "config.json").read_text() == (tmp_path / "base" / "config.json").read_text()
    assert (out / "1_Pooling" / "config.json").is_file()
    assert not (out / "kb-conversion.json").exists()  # the marker vouches for untuned weights only
    assert json.loads((out / "kb-adapter.json").read_text())["layers"] == [1]
    assert apply_adapter(tmp_path / "base", adapter, out) == out  # already applied: kept


def test_adapter_refuses_what_does_not_fit(tmp_path: Path) -> None:
    base = _tiny_model(tmp_path / "base")
    with pytest.raises(AdapterError):  # a tensor outside the declared layers
        save_adapter({"encoder.layer.0.attention.self.query.bias": base["encoder.layer.0.attention.self.query.bias"]},
                     tmp_path / "a.safetensors", {"base_model": "tiny", "layers": [1]})
    half = {"encoder.layer.1.attention.self.query.bias": base["encoder.layer.1.attention.self.query.bias"]}
    adapter = save_adapter(half, tmp_path / "half.safetensors", {"base_model": "tiny", "layers": [1]})
    with pytest.raises(AdapterError, match="whole layers"):
        apply_adapter(tmp_path / "base", adapter, tmp_path / "tuned")
    assert not (tmp_path / "tuned").exists()
    info = json.loads(sidecar_path(adapter).read_text())
    sidecar_path(adapter).write_text(json.dumps({**info, "sha256": "0" * 64}))
    with pytest.raises(AdapterError, match="sha256"):
        read_adapter(adapter)
