"""What ``kb compare`` and ``kb kpi`` do, kept out of ``kb/cli.py`` so that file stays a
list of commands and ``kb --help`` imports nothing heavy.

Errors a user can fix (unknown city or document, missing corpus or index) come back as
one line through the ``fail`` callback or the CLI's known-error handling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from kb.ingest.corpus import CITY_CHOICES, KUMAMOTO, KURUME

Echo = Callable[..., None]

_UNSAFE = re.compile(r"[^\w\u3040-\u30ff\u3400-\u9fff]+")


def slug(text: str, limit: int = 40) -> str:
    """A file name for a topic: letters, digits and Japanese kept, the rest "_"."""
    return _UNSAFE.sub("_", text).strip("_")[:limit] or "compare"


def _write(folder: Path, name: str, data: bytes | str, echo: Echo) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    echo(f"wrote {path}", err=True)


def run_compare(query: str | None, *, k: int, out: Path | None, as_json: bool, corpus: Path,
                index: Path | None, model: str | None, echo: Echo) -> int:
    from kb.compare.align import compare, cross_reference
    from kb.compare.render import (
        comparison_csv,
        comparison_json,
        comparison_markdown,
        cross_reference_csv,
        cross_reference_markdown,
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
                                  "same_topic": s.combined >= reference.threshold} for m, s in r.matches]}
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
    comparison = compare(searcher, query, kpis=kpis, k=k)
    markdown = comparison_markdown(comparison)
    echo(json.dumps(comparison_json(comparison), ensure_ascii=False) if as_json else markdown)
    if out is not None:
        _write(out, f"compare-{slug(query)}.md", markdown, echo)
        _write(out, f"compare-{slug(query)}.csv", comparison_csv(comparison), echo)
    return 0


def run_kpi(*, city: str | None, query: str | None, doc: str | None, as_json: bool, coverage: bool, gold: Path,
            corpus: Path, echo: Echo, fail: Callable[[str], None]) -> int:
    from kb.kpi.extract import coverage as coverage_rows
    from kb.kpi.extract import coverage_markdown, filter_kpis, load_kpis, read_gold

    if city and city not in CITY_CHOICES:
        fail(f"unknown city {city!r} (choose from {', '.join(CITY_CHOICES)})")
    extraction = load_kpis(corpus)
    documents = sorted({p.stem for p in Path(corpus).glob("*.txt")})
    if doc and doc not in documents:
        fail(f"unknown document {doc!r} (known: {', '.join(documents)})")
    if coverage:
        if not gold.is_file():
            fail(f"no hand-counted KPI rows at {gold} (give --gold FILE)")
        rows = coverage_rows(extraction, read_gold(gold), [d for d in documents if not doc or d == doc])
        echo(coverage_markdown(rows))
        for row in rows:
            for missing in row.missing:
                echo(f"not extracted: {missing.doc}:{missing.line} {missing.name}")
        for problem in extraction.problems:
            if not doc or problem.doc == doc:
                echo(f"unread: {problem.doc}:{problem.line} {problem.text} ({problem.reason})")
        return 1 if any(r.missing for r in rows) else 0
    kpis = filter_kpis(extraction.kpis, city=city, doc=doc, query=query)
    if as_json:
        for kpi in kpis:
            echo(json.dumps(kpi.to_json(), ensure_ascii=False))
        return 0
    if not kpis:
        echo("no KPIs match; try other words, or remove filters")
        return 0
    current = None
    for kpi in kpis:
        if kpi.doc != current:
            current = kpi.doc
            echo(f"\n{kpi.title} ({kpi.doc})")
        period = f" 〔{kpi.period}〕" if kpi.period else ""
        where = " › ".join(kpi.path[1:]) if len(kpi.path) > 1 else ""
        echo(f"  {kpi.line_start:>5}-{kpi.line_end:<5} {kpi.label}{period}  {kpi.describe()}")
        if where:
            echo(f"               {where}")
        if kpi.progress:
            echo("               実績: " + ", ".join(f"{p.column} {p.value}" + (f"({p.year})" if p.year else "")
                                          for p in kpi.progress if not p.column.startswith("目標")))
    with_values = sum(k.has_values for k in kpis)
    echo(f"\n{len(kpis)} KPIs: {with_values} with a target value, {len(kpis) - with_values} names only "
         "(the plan gives no values)")
    problems = [p for p in extraction.problems if (not doc or p.doc == doc)]
    if problems:
        echo(f"{len(problems)} lines inside KPI tables could not be read; see `kb kpi --coverage`")
    return 0
