"""What ``kb kpi`` does: list, filter and audit the plans' structured KPI records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kb.ingest.corpus import resolve_city
from kb.ingest.names import resolve_name, unknown_name_message
from kb.kpi.scope import corpus_scope

if TYPE_CHECKING:
    from kb.kpi.extract import Kpi

Echo = Callable[..., None]


def _ranked_by_search(kpis: list[Kpi], query: str, index: Path | None, city: str | None, doc: str | None,
                      echo: Echo) -> list[Kpi]:
    """KPIs named like the query first, then those of the measures search finds for it."""
    from kb.errors import KbError
    from kb.kpi.lookup import kpis_for_question
    from kb.search.searcher import Filters
    from kb.service import open_searcher

    try:
        # The searcher alone: these KPI records are already loaded.
        hits = open_searcher(index).search(query, k=30, filters=Filters(city=city, doc=doc)).hits
    except KbError as exc:
        echo(f"note: KPIs matched by name only (search unavailable: {exc})", err=True)
        hits = []
    return kpis_for_question(kpis, query, [h.chunk for h in hits])


def run_kpi(*, city: str | None, query: str | None, doc: str | None, as_json: bool, coverage: bool, gold: Path,
            corpus: Path, echo: Echo, fail: Callable[[str], None], index: Path | None = None) -> int:
    from kb.kpi.coverage import coverage as coverage_rows
    from kb.kpi.coverage import coverage_markdown, read_gold
    from kb.kpi.extract import filter_kpis, load_kpis

    city = resolve_city(city)
    scope = corpus_scope(corpus)  # every plan's city, with or without KPIs: what search accepts
    if city and city not in scope.cities:
        fail(scope.unknown_city(city))
    documents = list(scope.documents)
    extraction = load_kpis(corpus)
    if doc:  # any spelling kb show takes (x, x.txt), resolved to the plan's own name
        named = resolve_name(doc, documents)
        if named is None:
            fail(unknown_name_message(doc, documents))
        doc = named or doc
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
    kpis = filter_kpis(extraction.kpis, city=city, doc=doc)
    if query:
        kpis = _ranked_by_search(kpis, query, index, city, doc, echo)
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
