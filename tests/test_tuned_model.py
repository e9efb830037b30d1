"""The default model: e5-small-q4 plus kb's tuned layers, named by the adapter's digest."""

from __future__ import annotations

import json

import pytest

from kb.embed.adapter import ADAPTER_FILE, sidecar_path
from kb.embed.e5q4 import DEFAULT_MODEL_NAME
from kb.embed.tuned import builtin_model_dir, tuned_model_dir, tuned_model_name


def test_the_tuned_model_is_named_by_its_adapter():
    digest = json.loads(sidecar_path(ADAPTER_FILE).read_text(encoding="utf-8"))["sha256"]
    assert tuned_model_name() == f"{DEFAULT_MODEL_NAME}+kb-{digest[:8]}"
    assert builtin_model_dir(tuned_model_name()) == tuned_model_dir()
    assert builtin_model_dir("intfloat/multilingual-e5-small") is None


def test_the_shipped_adapter_is_small_and_says_how_it_was_made():
    info = json.loads(sidecar_path(ADAPTER_FILE).read_text(encoding="utf-8"))
    assert ADAPTER_FILE.stat().st_size < 16 * 2**20  # megabytes, never the 470 MB model
    assert info["base_model"] == DEFAULT_MODEL_NAME and info["seed"] == 13 and info["layers"]


def test_the_index_records_the_tuned_model(real_index):
    from kb.index.storage import read_manifest

    _, manifest = read_manifest(real_index)
    assert manifest.model.name in (tuned_model_name(), DEFAULT_MODEL_NAME)


def test_an_int8_export_below_the_gate_is_never_used(real_index):
    """The tuned model's int8 export drifts (cosine ~0.98): queries use its fp32 export, and asking
    for int8 by name is refused rather than silently served."""
    from kb.embed.onnx.layout import installed_meta
    from kb.embed.onnx.runtime import QueryEncoder
    from kb.errors import QueryEncoderUnavailable

    meta = installed_meta(tuned_model_name())
    if meta is None:
        pytest.skip("the tuned model's query encoder is not exported (run `kb model prepare`)")
    usable = meta.get("usable", ["int8", "fp32"])
    encoder = QueryEncoder(tuned_model_name())
    assert encoder.variant in usable
    if "int8" not in usable:
        assert encoder.variant == "fp32"
        with pytest.raises(QueryEncoderUnavailable, match="disagrees"):
            QueryEncoder(tuned_model_name(), variant="int8")
