"""Where an ONNX query encoder lives and when an installed one is still valid.

``meta.json`` records the export format, the model and a fingerprint of the model's files, so
an export made from other weights (a re-converted model, an edited local folder) is
ignored instead of silently giving different vectors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kb.ingest.corpus import sizes_match

FORMAT = 1
META = "meta.json"
VARIANTS = ("int8", "fp32")
#: ``KB_QUERY_ENCODER`` (:mod:`kb.config`): ``int8`` (default), ``fp32`` or ``torch`` (no ONNX at all).
DEFAULT_VARIANT = "int8"
#: ``KB_QUERY_THREADS`` sets onnxruntime's intra-op threads per query (default 1: on a busy
#: 2-core machine one thread is faster, and the app runs queries concurrently).
MIN_COSINE = 0.99
CACHE_SIZE = 2048
K_UNK_PENALTY = 10.0


def encoders_root() -> Path:
    from kb.embed.e5q4 import kb_home

    return kb_home() / "query-encoders"


def encoder_dir(model_name: str, root: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    import hashlib

    return (root or encoders_root()) / f"{safe}-{hashlib.sha256(model_name.encode()).hexdigest()[:8]}"


def model_fingerprint(model_name: str) -> str | None:
    """Sizes and times of the model's local files: an export is stale when they change.

    None for a model with no local folder (a hub name resolved elsewhere).
    """
    import hashlib

    from kb.embed.tuned import builtin_model_dir

    folder = builtin_model_dir(model_name) or Path(model_name).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def installed_meta(model_name: str) -> dict | None:
    """The metadata of a valid installed export for ``model_name``, else None."""
    return valid_meta(encoder_dir(model_name), model_name)


def valid_meta(directory: Path, model_name: str) -> dict | None:
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("model") != model_name:
        return None
    recorded = meta.get("source")
    if recorded is not None and recorded != model_fingerprint(model_name):
        return None
    return meta if sizes_match(directory, meta.get("files", {})) else None


def file_sizes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(root.iterdir()) if p.is_file() and p.name != META}

