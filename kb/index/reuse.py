"""Reuse the previous build's vectors for unchanged chunks — but only vectors that verify.

A rebuild after editing one plan should embed only what changed, so vectors are looked up
by chunk content hash in the current build. Those files are trusted only when their sha256
still matches the checksum the previous manifest recorded and every value is finite: a
flipped byte or permuted rows in ``vectors.npy`` would otherwise be copied into the new
build under fresh checksums, and dense search would quietly return garbage for good.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from kb.chunk import Chunk
from kb.embed.protocol import Embedder
from kb.index.journal import JournalWriter, RowFile, VectorLookup, all_finite, npy_rows
from kb.ingest.corpus import sha256_file

#: ``notify(done, total)`` for one embedding stage's progress bar.
Notify = Callable[[int, int], None]

#: Chunks embedded per call: length-sorted groups waste little compute on padding and keep
#: the progress bar moving.
GROUP = 64


def checksums_match(build: Path, artefacts: Mapping[str, str], names: Sequence[str]) -> bool:
    """Whether each named file still has the sha256 its manifest recorded (False if unreadable)."""
    for name in names:
        digest = artefacts.get(name)
        try:
            if digest is None or sha256_file(build / name) != digest:
                return False
        except OSError:
            return False
    return True


def verified_vectors(
    build: Path | None, artefacts: Mapping[str, str], vectors_name: str, hashes_name: str
) -> dict[str, np.ndarray]:
    """Vectors of a previous build by content hash; empty when anything fails to verify."""
    if build is None or not checksums_match(build, artefacts, (vectors_name, hashes_name)):
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


def call_size(embedder: Embedder) -> int:
    """Texts per ``encode_documents`` call: :data:`GROUP`, or the multiple of it that an
    embedder on many workers asks for (``preferred_group``) to keep them all busy; each
    worker still embeds whole groups of :data:`GROUP`, so the vectors do not change."""
    return max(1, getattr(embedder, "preferred_group", GROUP) // GROUP) * GROUP


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
    step = call_size(embedder)
    for offset in range(0, len(missing), step):
        ids = missing[offset : offset + step]
        vectors[ids] = embedder.encode_documents([chunks[i].embed_text for i in ids])
        notify(min(offset + step, len(missing)), len(missing))
    if not missing:
        notify(0, 0)
    return vectors, len(missing)


def verified_lookup(
    build: Path | None, artefacts: Mapping[str, str], vectors_name: str, hashes_name: str, dimension: int
) -> VectorLookup:
    """Like :func:`verified_vectors`, but the vectors stay on disk and are read row by row."""
    lookup = VectorLookup()
    if build is None or not checksums_match(build, artefacts, (vectors_name, hashes_name)):
        return lookup
    found = npy_rows(build / vectors_name)
    if found is None:
        return lookup
    offset, (count, width) = found
    if width != dimension:
        return lookup
    try:
        rows: dict[bytes, int] = {}
        row = 0
        with (build / hashes_name).open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    rows[bytes.fromhex(json.loads(line)["content_hash"])] = row
                    row += 1
        if row != count or not all_finite(build / vectors_name, offset, count * width):
            return lookup
    except (OSError, ValueError, KeyError, TypeError):
        return lookup
    lookup.add_file(RowFile(build / vectors_name, offset, 4 * width, 0, width), rows)
    return lookup


class EmbedPlan:
    """What embedding needs to know of each chunk: its content digest and embed-text length.

    A build records these as chunks stream past (36 bytes a chunk), not the chunks.
    """

    def __init__(self) -> None:
        self._digests = bytearray()
        self.lengths = array("q")

    def add(self, chunk: Chunk) -> None:
        self._digests += bytes.fromhex(chunk.content_hash)
        self.lengths.append(len(chunk.embed_text))

    def digest(self, item: int) -> bytes:
        return bytes(self._digests[32 * item : 32 * item + 32])

    def __len__(self) -> int:
        return len(self.lengths)


def embed_to_file(
    plan: EmbedPlan, texts: Sequence[Chunk], embedder: Embedder, sources: Sequence[Mapping[bytes, np.ndarray]],
    path: Path, journal: JournalWriter | None, notify: Notify,
) -> tuple[int, list[int]]:
    """Write every chunk's vector into the ``.npy`` at ``path`` as soon as it is known.

    Vectors come from the first of ``sources`` that has the chunk's hash (the previous
    build, then resume journals); the rest are embedded in length-sorted groups of
    :data:`GROUP` (several per call for an embedder on many workers: :func:`call_size`),
    in the order :func:`embed_with_reuse` uses, each call's vectors written to the file and
    appended to ``journal`` before the next call starts. ``texts[i]`` is chunk *i*
    (the temporary build's chunk store). Returns (embedded, taken from each source).
    """
    dimension = embedder.dimension
    count = len(plan)
    created = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, dimension))
    offset = created.offset  # the header's length; the rows are written with pwrite, not through the map
    del created
    stride = 4 * dimension
    taken = [0] * len(sources)
    missing: list[int] = []
    fd = os.open(path, os.O_WRONLY)
    try:
        for i in range(count):
            key = plan.digest(i)
            for number, source in enumerate(sources):
                if key in source:
                    vector = source[key]
                    if vector.shape == (dimension,):
                        os.pwrite(fd, np.ascontiguousarray(vector, dtype="<f4").tobytes(), offset + i * stride)
                        taken[number] += 1
                        break
            else:
                missing.append(i)
        lengths = plan.lengths
        missing.sort(key=lengths.__getitem__)
        step = call_size(embedder)
        for start in range(0, len(missing), step):
            ids = missing[start : start + step]
            vectors = np.ascontiguousarray(embedder.encode_documents([texts[i].embed_text for i in ids]), dtype="<f4")
            for i, vector in zip(ids, vectors):
                os.pwrite(fd, vector.tobytes(), offset + i * stride)
            if journal is not None:
                journal.append([plan.digest(i) for i in ids], vectors)
            notify(min(start + step, len(missing)), len(missing))
        if not missing:
            notify(0, 0)
    finally:
        os.close(fd)
    return len(missing), taken
