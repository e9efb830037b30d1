"""What the index and the searcher need from an embedding model, and nothing more.

Both the build (documents) and the searcher (queries) talk to this protocol, so a
sentence-transformers model, the torch-free ONNX query encoder, a second encoder such
as multilingual USE, or a test's deterministic fake are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class QueryEmbedder(Protocol):
    """Embeds queries: all a searcher needs. ``name`` is what the index records."""

    name: str
    dimension: int

    def encode_query(self, text: str) -> np.ndarray:
        """One L2-normalised float32 vector of shape ``(dimension,)``."""
        ...


@runtime_checkable
class Embedder(QueryEmbedder, Protocol):
    """Embeds documents too: what a build needs."""

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, shape ``(len(texts), dimension)``."""
        ...


class ExportableEmbedder(Protocol):
    """What the ONNX export needs of a sentence-transformers embedder (kb.embed.sentence.SentenceEmbedder)."""

    name: str

    @property
    def model(self) -> Any:  # sentence_transformers.SentenceTransformer
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        ...
