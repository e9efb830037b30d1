"""Reuse the previous build's vectors for unchanged chunks — but only vectors that verify.

A rebuild after editing one plan should embed only what changed, so vectors are looked up
by chunk content hash in the current build. Those files are trusted only when their sha256
still matches the checksum the previous manifest recorded and every value is finite: a
flipped byte or permuted rows in ``vectors.npy`` would otherwise be copied into the new
build under fresh checksums, and dense search would quietly return garbage for good.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from kb.chunk import Chunk
from kb.embed.protocol import Embedder
from kb.ingest.corpus import sha256_file

#: ``notify(done, total)`` for one embedding stage's progress bar.
Notify = Callable[[int, int], None]

#: Chunks embedded per call: length-sorted groups waste little compute on padding and keep
#: the progress bar moving.
GROUP = 64


def verified_vectors(
    build: Path | None, artefacts: Mapping[str, str], vectors_name: str, hashes_name: str
) -> dict[str, np.ndarray]:
    """Vectors of a previous build by content hash; empty when anything fails to verify."""
    if build is None:
        return {}
    for name in (vectors_name, hashes_name):
        digest = artefacts.get(name)
        try:
            if digest is None or sha256_file(build / name) != digest:
                return {}
        except OSError:
            return {}
    try:
        vectors = np.load(build / vectors_name)
        lines = (build / hashes_name).read_text(encoding="utf-8").splitlines()
        hashes = [json.loads(line)["content_hash"] for line in lines if line.strip()]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if vectors.ndim != 2 or len(hashes) != len(vectors) or not np.isfinite(vectors).all():
        return {}
    return dict(zip(hashes, vectors))


def embed_with_reuse(
    chunks: Sequence[Chunk], embedder: Embedder, cache: Mapping[str, np.ndarray], notify: Notify
) -> tuple[np.ndarray, int]:
    """Vectors for every chunk, taken from ``cache`` where possible; returns (vectors, embedded)."""
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    missing: list[int] = []
    for i, chunk in enumerate(chunks):
        cached = cache.get(chunk.content_hash)
        if cached is not None and cached.shape == (embedder.dimension,):
            vectors[i] = cached
        else:
            missing.append(i)
    missing.sort(key=lambda i: len(chunks[i].embed_text))
    # An embedder on many workers asks for several groups per call (a multiple of GROUP).
    step = max(1, getattr(embedder, "preferred_group", GROUP) // GROUP) * GROUP
    for offset in range(0, len(missing), step):
        ids = missing[offset : offset + step]
        vectors[ids] = embedder.encode_documents([chunks[i].embed_text for i in ids])
        notify(min(offset + step, len(missing)), len(missing))
    if not missing:
        notify(0, 0)
    return vectors, len(missing)
