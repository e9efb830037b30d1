"""A concordance (:mod:`kb.search.concordance`) as the front ends hand it out: JSON, CSV, text.

Shared by ``kb mentions``, the MCP ``mentions`` tool and the app's CSV download, so the three
cannot disagree on a count or a line. Like :mod:`kb.present`, CSV is UTF-8 with a BOM (Excel
reads the Japanese) and no cell can run as a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from kb.domain import SourceSpan
from kb.present import csv_cell
from kb.search.concordance import Concordance, Occurrence, Passage

CSV_FIELDS = ("term", "found", "city", "title", "doc", "section", "kind", "line_start", "line_end",
              "passage_start", "passage_end", "context")


def occurrence_json(occurrence: Occurrence) -> dict[str, Any]:
    return {"term": occurrence.term, "found": occurrence.found, "line_start": occurrence.line_start,
            "line_end": occurrence.line_end, "context": occurrence.context}


def passage_json(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "doc": chunk.doc, "title": chunk.title, "city": chunk.city, "section": chunk.section,
        "heading_path": list(chunk.heading_path), "kind": chunk.kind,
        "line_start": chunk.line_start, "line_end": chunk.line_end,
        "mentions": [occurrence_json(o) for o in passage.occurrences],
    }


def concordance_json(concordance: Concordance) -> dict[str, Any]:
    """Terms, how they combine, what synonyms added, counts per plan, and every passage."""
    filters = {k: v for k, v in vars(concordance.filters).items() if v}
    return {
        "terms": list(concordance.terms),
        "match": "all" if concordance.require_all else "any",
        "synonyms": {t: list(f) for t, f in concordance.synonyms.items()},
        "filters": filters,
        "passages_count": len(concordance.passages),
        "mentions_count": concordance.occurrences,
        "plans": [vars(p).copy() for p in concordance.plans()],
        "passages": [passage_json(p) for p in concordance.passages],
    }


def concordance_csv(concordance: Concordance, link: str = "") -> bytes:
    """One row per mention (not per passage): a report counts places; the passage span is kept
    beside the mention's own lines. Every row repeats how the list was made."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    made = concordance.describe() + "".join(f"; {k}={v}" for k, v in vars(concordance.filters).items() if v)
    writer.writerow([*CSV_FIELDS, "list", "link"])
    for passage in concordance.passages:
        chunk = passage.chunk
        for occurrence in passage.occurrences:
            cells = [occurrence.term, occurrence.found, chunk.city, chunk.title, chunk.doc, chunk.section, chunk.kind,
                     occurrence.line_start, occurrence.line_end, chunk.line_start, chunk.line_end,
                     occurrence.context, made, link]
            writer.writerow([csv_cell(c) for c in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def span_label(doc: str, start: int, end: int) -> str:
    return str(SourceSpan(doc, start, end))


def summary_line(concordance: Concordance) -> str:
    """``「文化財」を含む記述 / passages containing 文化財: 6 passages, 12 mentions``."""
    return f"{concordance.describe()}: {len(concordance.passages)} 件 passages, {concordance.occurrences} か所 mentions"


#: How the CLI marks a term in an excerpt: the plans use 【】 themselves (【男女共同参画】 as a label), « » never.
MARK = ("«", "»")


def text_lines(concordance: Concordance, mark: tuple[str, str] = MARK) -> list[str]:
    """The listing as plain lines: per plan a count line, per section its heading path and its
    passages' spans, per mention its lines and a one-line excerpt with the term between ``mark``."""
    out = [summary_line(concordance)]
    for term, forms in concordance.synonyms.items():
        out.append(f"同義語 / synonyms of {term}: {', '.join(forms)}")
    counts = {p.doc: p for p in concordance.plans()}
    current = ""
    for doc, section, passages in concordance.sections():
        if doc != current:
            plan = counts[doc]
            out += ["", f"■ {plan.title}（{plan.city}）{doc}: {plan.passages} 件 passages, {plan.occurrences} か所 mentions"]
            current = doc
        spans = ", ".join(f"{p.chunk.line_start}-{p.chunk.line_end}" for p in passages)
        out.append(f"  {section}  [passage {spans}]")
        for passage in passages:
            for occurrence in passage.occurrences:
                where = span_label(doc, occurrence.line_start, occurrence.line_end)
                out.append(f"    {where}  {occurrence.before}{mark[0]}{occurrence.found}{mark[1]}{occurrence.after}")
    return out
