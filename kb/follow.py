"""Following rebuilds: a new build of the index opened with what is already loaded.

The app (:class:`kb.ui.service.SearchService`) and ``kb mcp`` (:class:`kb.mcp.backend.Backend`)
notice when ``index/current`` points at another build; this module opens that build for both.
Kept apart from the front ends so that what may be reused across builds, and when it may not,
is decided in one short place.
"""

from __future__ import annotations

from pathlib import Path

from kb.index.storage import load_index, read_manifest
from kb.search.searcher import Searcher
from kb.service import Session, open_session, session_for


def reopen(session: Session, folder: Path, corpus_dir: Path | None, *, model: str | None = None) -> Session:
    """``folder``'s index searched with what ``session`` already has loaded.

    ``kb add``/``kb remove``/``kb build`` rebuild with the index's own model and ranker, so
    the query encoder (an ONNX session), the ranker, the analyzers and the query vocabulary
    can stay: the new build is open in milliseconds instead of the ~0.4 s (seconds on a busy
    machine) that loading them again costs, which is most of what following a rebuild
    takes. A build with another model, ranker or second-encoder field is opened from scratch,
    with every check :func:`kb.service.open_searcher` makes (``model``: the one a front end was
    started with, if any). ``corpus_dir`` None means the corpus the build was made from.
    """
    old = session.searcher
    manifest = read_manifest(folder)[1]
    ranker = old.learned.ranker if old.learned is not None else None
    same = (
        manifest.model.name == old.index.model
        and manifest.ranker == old.index.manifest.ranker
        and (old.embedder is None or old.embedder.dimension == manifest.model.dimension)
        and (old.learned is None or ranker is not None)  # ranker-less learned ranking: features for training only
    )
    loaded = load_index(folder, model=manifest.model.name) if same else None
    if loaded is None or (loaded.use_dense is None) != (old.index.use_dense is None):
        return open_session(folder, corpus_dir=corpus_dir, model=model)
    searcher = Searcher(loaded, old.embedder, analyzer=old.analyzer, expander=old.expander, config=old.config,
                        use_embedder=old.use_embedder, ranker=ranker)
    return session_for(searcher, corpus_dir)
