"""The index's second lexical field and second encoder, built and loaded beside the first ones.

* ``sudachi/``: a bm25s index over Sudachi normalised forms and synonym groups
  (:mod:`kb.analysis.sudachi`), always built (about 1.5 s for the five plans);
* ``use_vectors.npy`` + ``use.faiss``: multilingual USE vectors (:mod:`kb.embed.use`), built
  only on request (``kb build --second-encoder``): they did not improve the tuning splits,
  so the default index leaves them out. Vectors of unchanged chunks are reused by content
  hash, like e5's.

:func:`build_signals` writes them into a build folder and returns the manifest entries;
:func:`load_signals` reads them back and refuses an index whose Sudachi field another
analyser version made (or that has none: built by an older kb).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.analysis.sudachi import SUDACHI_VERSION, SudachiAnalyzer, dictionary_version, is_group_token, kept_groups
from kb.chunk import Chunk
from kb.embed.protocol import Embedder
from kb.errors import IndexUnavailable
from kb.index.dense import DenseIndexSpec, FaissIndex, build_dense, choose_spec, load_dense, save_dense
from kb.index.lexical import TERM_BATCH, LexicalIndex
from kb.index.manifest import IndexManifest
from kb.index.reuse import embed_with_reuse, verified_vectors

SUDACHI_DIR = "sudachi"
USE_VECTORS = "use_vectors.npy"
USE_INDEX = "use.faiss"
USE_HASHES = "hashes.jsonl"

Progress = Callable[[str, int, int], None]


@dataclass
class Signals:
    sudachi: LexicalIndex | None = None
    use_dense: FaissIndex | None = None


def build_sudachi(chunks: Sequence[Chunk], directory: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Tokenise every chunk with Sudachi, drop unhelpful group tokens, save the BM25 field.

    Streams: ``chunks`` may be the build's chunk store. The term lists are spilled to a
    temporary file while the group tokens' document frequencies are counted, then read
    back pruned (:func:`kb.analysis.sudachi.kept_groups`, prune_groups' rule) into the BM25
    builder, so memory holds one batch and the frequency counts, not N term lists.
    """
    analyzer = SudachiAnalyzer()
    notify = progress or (lambda stage, done, total: None)
    df: Counter[str] = Counter()
    handle, name = tempfile.mkstemp(prefix="kb-sudachi-", suffix=".jsonl", dir=directory)
    spill = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for done, chunk in enumerate(chunks, start=1):
                terms = analyzer.terms(chunk.search_text)
                df.update({t for t in terms if is_group_token(t)})
                out.write(json.dumps(terms, ensure_ascii=False) + "\n")
                if done % 50 == 0 or done == len(chunks):
                    notify("sudachi", done, len(chunks))
        keep = kept_groups(df)

        def pruned() -> Iterator[list[str]]:
            with spill.open(encoding="utf-8") as lines:
                for line in lines:
                    yield [t for t in json.loads(line) if not is_group_token(t) or t in keep]

        LexicalIndex.build_to(pruned(), directory / SUDACHI_DIR, batch=TERM_BATCH)
    finally:
        spill.unlink(missing_ok=True)
    return {"library": "bm25s", "analyzer": "sudachi normalised forms + synonym groups",
            "version": SUDACHI_VERSION, "dictionary": dictionary_version()}


def _previous_use_vectors(previous: Path | None, name: str) -> dict[str, np.ndarray]:
    if previous is None:
        return {}
    try:
        manifest = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or (manifest.get("use") or {}).get("name") != name:
            return {}
        artefacts = manifest.get("artefacts")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(artefacts, dict):
        return {}
    return verified_vectors(previous, artefacts, USE_VECTORS, USE_HASHES)


def build_use(
    chunks: Sequence[Chunk], directory: Path, previous: Path | None = None, progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Embed every chunk with the second encoder (reusing unchanged chunks' vectors), save vectors + FAISS."""
    if embedder is None:
        from kb.embed.use import UseEmbedder

        embedder = UseEmbedder(threads=2)
    notify = progress or (lambda stage, done, total: None)
    cache = _previous_use_vectors(previous, embedder.name)
    vectors, embedded = embed_with_reuse(chunks, embedder, cache, lambda done, total: notify("use", done, total))
    np.save(directory / USE_VECTORS, vectors)
    spec = choose_spec(len(chunks), embedder.dimension)
    save_dense(build_dense(vectors, spec), directory / USE_INDEX)
    return {"name": embedder.name, "dimension": embedder.dimension, "dense_index": spec.to_dict(),
            "embedded": embedded, "reused": len(chunks) - embedded}


def check_sudachi(manifest: IndexManifest) -> None:
    """Queries must be cut the way the Sudachi field was, or its words silently stop matching."""
    built = manifest.sudachi
    if not built:
        raise IndexUnavailable("index has no Sudachi field (it was built by an older kb): run `kb build`")
    if str(built.get("version")) != SUDACHI_VERSION:
        raise IndexUnavailable(
            f"index Sudachi terms were made by version {built.get('version')}, this kb uses {SUDACHI_VERSION}: "
            "run `kb build`"
        )


def load_signals(build: Path, manifest: IndexManifest, size: int) -> Signals:
    check_sudachi(manifest)
    sudachi = LexicalIndex.load(build / SUDACHI_DIR, size)
    use_dense = None
    use = manifest.use
    if use:
        use_dense = load_dense(build / USE_INDEX, DenseIndexSpec(**use["dense_index"]))
        if use_dense.ntotal != size or use_dense.d != use.get("dimension"):
            raise IndexUnavailable("index second-encoder vectors disagree with its chunks: run `kb build`")
    return Signals(sudachi=sudachi, use_dense=use_dense)
