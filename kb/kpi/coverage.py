"""How much of a plan's KPI rows the extraction found: ``kb kpi --coverage``.

The hand-counted rows (eval/compare/kpi_rows.toml) are the yardstick: a reader that
misses a row, or reads a line it cannot parse, shows up here rather than in a planner's
report. Kept apart from :mod:`kb.kpi.extract` so the readers stay short.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kb.ingest.parse.common import fold_width

if TYPE_CHECKING:
    from kb.kpi.extract import Kpi, KpiExtraction


@dataclass(frozen=True)
class GoldRow:
    doc: str
    line: int
    name: str


@dataclass(frozen=True)
class Coverage:
    """KPI rows one document has (counted by reading it) against what was extracted."""

    doc: str
    in_text: int
    extracted: int
    found: int
    with_values: int
    names_only: int
    problems: int
    missing: tuple[GoldRow, ...] = ()

    @property
    def recall(self) -> float:
        return self.found / self.in_text if self.in_text else 1.0


def read_gold(path: Path | str) -> list[GoldRow]:
    """The hand-counted KPI rows (eval/compare/kpi_rows.toml): doc → [[line, name], …]."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    rows = []
    for doc, entry in data.get("documents", {}).items():
        for line, name in entry.get("rows", []):
            rows.append(GoldRow(doc=doc, line=int(line), name=str(name)))
    return rows


def _same(gold: GoldRow, kpi: Kpi) -> bool:
    return kpi.doc == gold.doc and kpi.line_start == gold.line and fold_width(kpi.name) == fold_width(gold.name)


def coverage(extraction: KpiExtraction, gold: Sequence[GoldRow], docs: Iterable[str]) -> list[Coverage]:
    out = []
    for doc in docs:
        mine = extraction.for_doc(doc)
        wanted = [g for g in gold if g.doc == doc]
        missing = tuple(g for g in wanted if not any(_same(g, k) for k in mine))
        out.append(Coverage(
            doc=doc, in_text=len(wanted), extracted=len(mine), found=len(wanted) - len(missing),
            with_values=sum(k.has_values for k in mine), names_only=sum(not k.has_values for k in mine),
            problems=sum(p.doc == doc for p in extraction.problems), missing=missing,
        ))
    return out


def coverage_markdown(rows: Sequence[Coverage]) -> str:
    lines = [
        "| document | KPI rows in the text | extracted | matched | with a target value | names only (no values) | unread lines |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row.doc} | {row.in_text} | {row.extracted} | {row.found} | {row.with_values} | "
                     f"{row.names_only} | {row.problems} |")
    total = [sum(getattr(r, f) for r in rows) for f in ("in_text", "extracted", "found", "with_values",
                                                         "names_only", "problems")]
    lines.append("| **total** | " + " | ".join(str(t) for t in total) + " |")
    return "\n".join(lines)
