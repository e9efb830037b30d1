"""What ``kb compare`` and ``kb kpi`` do, kept out of ``kb/cli.py`` so that file stays a
list of commands and ``kb --help`` imports nothing heavy.

Errors a user can fix (unknown city or document, missing corpus or index) come back as
one line through the ``fail`` callback or the CLI's known-error handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kb.ingest.corpus import KUMAMOTO, KURUME

Echo = Callable[..., None]

def _write(folder: Path, name: str, data: bytes | str, echo: Echo) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    echo(f"wrote {path}", err=True)


def run_compare(query: str | None, *, k: int, out: Path | None, as_json: bool, corpus: Path,
                index: Path | None, model: str | None, echo: Echo, left: str | None = None,
                right: str | None = None) -> int:
    """``left``/``right``: a city, its alias or a document id (default 久留米市 × 熊本市);
    an unknown one fails as one line that lists what the index holds."""
    from kb.compare.align import LEFT, RIGHT, compare, cross_reference, resolve_side
    from kb.compare.render import (
        comparison_csv,
        comparison_json,
        comparison_markdown,
        cross_reference_csv,
        cross_reference_markdown,
        same_topic,
        slug,
    )
    from kb.kpi.extract import load_kpis
    from kb.service import open_searcher

    kpis = load_kpis(corpus).kpis
    if query is None:  # --all needs the index's vectors, not the model
        searcher = open_searcher(index, model=model, dense=False)
        for source, name in ((KURUME, "kurume-to-kumamoto"), (KUMAMOTO, "kumamoto-to-kurume")):
            reference = cross_reference(searcher, source, kpis=kpis)
            if as_json:
                echo(json.dumps({"source": source, "rows": [
                    {"source": r.source.unit.source, "name": r.source.unit.name,
                     "matches": [{"name": m.unit.name, "source": m.unit.source, "similarity": round(s.combined, 4),
                                  "contrast": round(s.contrast, 4), "same_topic": same_topic(s, reference.threshold)} for m, s in r.matches]}
                    for r in reference.rows]}, ensure_ascii=False))
            else:
                echo(cross_reference_markdown(reference))
            if out is not None:
                _write(out, f"cross-reference-{name}.md", cross_reference_markdown(reference), echo)
                _write(out, f"cross-reference-{name}.csv", cross_reference_csv(reference), echo)
        return 0
    searcher = open_searcher(index, model=model)
    stale = searcher.index.stale_documents()
    if stale:
        echo(f"warning: corpus changed since the index was built ({', '.join(stale)}); run `kb build`", err=True)
    documents = dict(searcher.index.documents)
    sides = [resolve_side(v, documents) if v else d for v, d in ((left, LEFT), (right, RIGHT))]
    comparison = compare(searcher, query, left=sides[0], right=sides[1], kpis=kpis, k=k)
    markdown = comparison_markdown(comparison)
    echo(json.dumps(comparison_json(comparison), ensure_ascii=False) if as_json else markdown)
    if out is not None:
        _write(out, f"compare-{slug(query)}.md", markdown, echo)
        _write(out, f"compare-{slug(query)}.csv", comparison_csv(comparison), echo)
    return 0
