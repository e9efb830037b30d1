"""Open a ready :class:`~kb.search.searcher.Searcher` from an index folder: the one place that
decides which model to load (the one that built the index) and refuses any other.
"""

from __future__ import annotations

import os
from pathlib import Path

from kb.index.store import IndexUnavailable, check_model, load_index, read_manifest
from kb.search.searcher import SearchConfig, Searcher

INDEX_ENV = "KB_INDEX"
DEFAULT_INDEX = Path("index")
DEFAULT_CORPUS = Path("corpus")


def index_dir(value: Path | str | None) -> Path:
    return Path(value or os.environ.get(INDEX_ENV) or DEFAULT_INDEX)


def open_searcher(
    index: Path | str | None = None,
    *,
    model: str | None = None,
    dense: bool = True,
    config: SearchConfig | None = None,
) -> Searcher:
    """Load the index and (unless ``dense`` is False) the model that built it.

    ``model`` is what the user asked for (``--model`` / ``$KB_MODEL``); when given
    it must equal the index's model, because vectors of two models are not
    comparable and mixing them would return confident nonsense.
    """
    from kb.embed.sentence import query_embedder, requested_model

    folder = index_dir(index)
    _, manifest = read_manifest(folder)
    wanted = requested_model(model)
    check_model(manifest, wanted)
    loaded = load_index(folder, model=wanted)
    # Queries only: the torch-free ONNX export of the index's model when there is one.
    embedder = query_embedder(loaded.model) if dense else None
    dimension = manifest.get("model", {}).get("dimension")
    if embedder is not None and dimension and embedder.dimension != dimension:
        raise IndexUnavailable(
            f"model {loaded.model!r} now gives {embedder.dimension}-d vectors, the index has {dimension}-d: run `kb build`"
        )
    return Searcher(loaded, embedder, config=config)
