"""Comparisons as a planner pastes them: Markdown tables, CSV (UTF-8 with BOM) and JSON.

Every measure is shown with its plan, heading path, source address (``doc:start-end``,
which ``kb show`` and the app open) and its KPIs, so a table copied into a report can
be checked against the plans line by line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence

from kb.compare.align import (
    NONE_LABEL,
    PARTIAL_LABEL,
    STRONG_LABEL,
    Comparison,
    Counterpart,
    CrossReference,
    Measure,
    Side,
    Similarity,
    clean_title,
)
from kb.compare.strength import DIGITS, formula, label
from kb.domain import ChunkKind, SourceSpan
from kb.ingest.corpus import KUMAMOTO, KURUME
from kb.kpi.extract import Kpi
from kb.present import csv_cell

#: Short plan names by the manifest's ``kind`` (a planner says 総合計画, not the file name).
PLAN_NAMES = {
    "地方創生総合戦略": "総合戦略",
    "総合計画": "総合計画",
    "連携中枢都市圏ビジョン": "広域ビジョン",
    "ウェブページ": "ウェブ",
}
#: KPIs shown per measure in a table cell; the detail list shows all.
CELL_KPIS = 3

Link = Callable[[str, int, int], str]


_UNSAFE = re.compile(r"[^\w\u3040-\u30ff\u3400-\u9fff]+")


def slug(text: str, limit: int = 40) -> str:
    """A file name for a topic: letters, digits and Japanese kept, the rest "_"."""
    return _UNSAFE.sub("_", text).strip("_")[:limit] or "compare"


def plan_name(doc: str, documents: dict[str, dict[str, str]]) -> str:
    meta = documents.get(doc, {})
    city = meta.get("city", "")
    short = PLAN_NAMES.get(meta.get("kind", ""), meta.get("title", doc))
    if meta.get("area") and meta.get("area") != city:
        return f"久留米広域 {short}" if city == KURUME else f"{meta.get('area')} {short}"
    return f"{city} {short}".strip()


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "｜").replace("\n", " ").strip()


def kpi_text(kpi: Kpi) -> str:
    """"出生数 6,766人 (H30(2018)) → 7,000以上人 (R5(2023))", or the name and "目標値の記載なし"."""
    prefix = f"〔{kpi.period}〕" if kpi.period else ""
    if not kpi.has_values:
        return f"{prefix}{kpi.label}: {kpi.name}（目標値の記載なし）"
    unit = kpi.unit
    base = "—" if kpi.base_value is None else f"{kpi.base_value}{unit}" + (f"（{kpi.base_year}）" if kpi.base_year else "")
    target = f"{kpi.target_value}{unit}" + (f"（{kpi.target_year}）" if kpi.target_year else "")
    reprint = "（再掲）" if kpi.reprint else ""
    return f"{prefix}{kpi.label}: {reprint}{kpi.name} {base} → {target}"


def _kpi_cell(kpis: Sequence[Kpi], limit: int = CELL_KPIS) -> str:
    if not kpis:
        return "—"
    shown = [kpi_text(k) for k in kpis[:limit]]
    if len(kpis) > limit:
        shown.append(f"ほか{len(kpis) - limit}件")
    return "<br>".join(_md(s) for s in shown)


def _plain_link(doc: str, start: int, end: int) -> str:
    return str(SourceSpan(doc, start, end))


def measure_cell(measure: Measure, documents: dict[str, dict[str, str]], link: Link = _plain_link) -> str:
    unit = measure.unit
    context = " › ".join(unit.context)
    mark = "" if measure.retrieved else " ※"
    return (f"**{_md(unit.name)}**{mark}<br>{_md(plan_name(unit.doc, documents))}"
            + (f" › {_md(context)}" if context else "")
            + f"<br>{link(unit.doc, unit.line_start, unit.line_end)}")


def side_name(side: Side, documents: dict[str, dict[str, str]]) -> str:
    """A city as its name, a plan as its short name (久留米市 総合計画)."""
    return plan_name(side.doc, documents) if side.doc else side.label


def number(value: float, sign: bool = False) -> str:
    """A contrast or threshold as every rendering prints it (the digits labels are decided on)."""
    return f"{value:+.{DIGITS}f}" if sign else f"{value:.{DIGITS}f}"


def strength_note(comparison: Comparison) -> str:
    """What the strength words mean, one plain sentence per language, with the printed
    thresholds so that every pair's printed 対比 can be checked against them."""
    strong, partial = number(comparison.strong), number(comparison.threshold)
    return (f"{STRONG_LABEL}（対比 {strong} 以上）は両側の施策が同じ課題に同じ方向で取り組んでいるもの、"
            f"{PARTIAL_LABEL}（{partial} 以上）は課題や手段の一部が重なるもの、"
            f"{NONE_LABEL}（それ未満）は相手側に同じ課題を扱う施策が見当たらないもの（「…のみ」に記載）です。 / "
            f"Strong match ({strong} or more): both sides tackle the same problem in the same direction; "
            f"partial ({partial} or more): they share part of the problem or of the means; "
            "no match (below): the other side has no measure on it (listed under “Only in …”).")


def formula_note(comparison: Comparison) -> str:
    """How 対比 is computed, for engineers (Markdown's last section, the app's details, JSON)."""
    return formula(comparison.dense_weight)


def _counterpart_text(c: Counterpart, docs: dict[str, dict[str, str]], link: Link) -> str:
    summary = f"<br>{_md(c.measure.summary)}" if c.measure.summary else ""
    kpis = f"<br>{_kpi_cell(c.measure.kpis)}" if c.measure.kpis else ""
    return (f"**{c.strength}**（対比 {number(c.similarity.contrast, sign=True)}） "
            + measure_cell(c.measure, docs, link) + summary + kpis)


def comparison_markdown(comparison: Comparison, link: Link = _plain_link) -> str:
    """The comparison as a memo: one row per left measure with its counterparts inside it."""
    docs = comparison.documents
    left, right = side_name(comparison.left, docs), side_name(comparison.right, docs)
    out = [
        f"# 比較 / Comparison: {comparison.query}",
        "",
        f"{left} × {right}。{strength_note(comparison)}",
        "",
        f"## 対応する施策 / Matched measures ({len(comparison.rows)})",
        "",
    ]
    if comparison.no_clear_match:
        out[-2:-2] = [("関連の薄い結果です / No clear match: 話題の言葉が計画書に見当たりません "
                      "(no word of the topic occurs in the plans)."), ""]
    if comparison.rows:
        out += [f"| {left} | {left}のKPI | {right}の対応 |", "|---|---|---|"]
        for row in comparison.rows:
            summary = f"<br>{_md(row.measure.summary)}" if row.measure.summary else ""
            counterparts = "<br><br>".join(_counterpart_text(c, docs, link) for c in row.counterparts)
            out.append(f"| {measure_cell(row.measure, docs, link)}{summary} | {_kpi_cell(row.measure.kpis)} "
                       f"| {counterparts} |")
        if any(not r.measure.retrieved or any(not c.measure.retrieved for c in r.counterparts) for r in comparison.rows):
            out += ["", "※ 検索結果の上位にはないが、相手側の施策に最も近い施策 / closest counterpart outside the top results."]
    else:
        out.append(f"対応する施策はありません / no pair reaches {PARTIAL_LABEL} ({number(comparison.threshold)}).")
    for name, measures in ((left, comparison.only_left), (right, comparison.only_right)):
        out += ["", f"## {name}のみ / Only in {name} ({len(measures)})", ""]
        if not measures:
            out.append("なし / none: every measure listed has a counterpart on the other side.")
            continue
        out.append(f"相手側のどの施策とも{PARTIAL_LABEL}（対比 {number(comparison.threshold)}）に届かない施策 / "
                   "no measure on the other side comes close.")
        out += ["", "| 施策 | 本文 | KPI |", "|---|---|---|"]
        out += [f"| {measure_cell(m, docs, link)} | {_md(m.summary) or '—'} | {_kpi_cell(m.kpis)} |" for m in measures]
    for name, measures in ((left, comparison.left_measures), (right, comparison.right_measures)):
        out += ["", f"## {name}の施策（検索順） / {name} measures, by relevance", ""]
        if not measures:
            out.append("該当なし / nothing found.")
        for position, measure in enumerate(measures, start=1):
            unit = measure.unit
            out.append(f"{position}. **{unit.name}** — {plan_name(unit.doc, docs)}"
                       + (f" › {' › '.join(unit.context)}" if unit.context else "")
                       + f" — {link(unit.doc, unit.line_start, unit.line_end)}")
            for kpi in measure.kpis:
                out.append(f"   - {kpi_text(kpi)} ({link(kpi.doc, kpi.line_start, kpi.line_end)})")
    out += ["", "## 数値について / About the numbers", "", formula_note(comparison)]
    return "\n".join(out) + "\n"


def comparison_json(comparison: Comparison) -> dict:
    def measure(m: Measure) -> dict:
        u = m.unit
        return {"name": u.name, "doc": u.doc, "city": u.city, "area": u.area, "kind": u.kind,
                "heading_path": list(u.heading_path), "line_start": u.line_start, "line_end": u.line_end,
                "summary": m.summary, "score": round(m.score, 6), "retrieved": m.retrieved,
                "kpis": [k.to_json() for k in m.kpis]}

    def similarity(s: Similarity) -> dict:
        return {"combined": round(s.combined, 4), "dense": round(s.dense, 4), "lexical": round(s.lexical, 4),
                "contrast": round(s.contrast, 4)}

    def side(s: Side) -> dict:
        return {"label": s.label, "city": s.city, "doc": s.doc}

    return {
        "query": comparison.query,
        "left": side(comparison.left),
        "right": side(comparison.right),
        "no_clear_match": comparison.no_clear_match,
        "threshold": comparison.threshold,
        "strong": comparison.strong,
        "dense_weight": comparison.dense_weight,
        "legend": strength_note(comparison),
        "formula": formula_note(comparison),
        "left_measures": [measure(m) for m in comparison.left_measures],
        "right_measures": [measure(m) for m in comparison.right_measures],
        "rows": [{"measure": measure(r.measure), "counterparts": [
            {"measure": measure(c.measure), "strength": c.strength, "similarity": similarity(c.similarity)}
            for c in r.counterparts]} for r in comparison.rows],
        "only_left": [measure(m) for m in comparison.only_left],
        "only_right": [measure(m) for m in comparison.only_right],
    }


def _csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # Plan text and topics are whatever was written or typed (``- ①…``, ``=1+1``): never a formula.
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def comparison_csv(comparison: Comparison) -> bytes:
    """One row per matched pair, then one per unmatched measure (UTF-8 with BOM for Excel)."""
    docs = comparison.documents
    left, right = side_name(comparison.left, docs), side_name(comparison.right, docs)
    header = ["区分", "対応の強さ", "対比", "類似度"]
    for name in (left, right):
        header += [f"{name} 施策", f"{name} 計画", f"{name} 見出し", f"{name} 本文", f"{name} 出典", f"{name} KPI"]

    def cells(m: Measure | None) -> list[object]:
        if m is None:
            return ["", "", "", "", "", ""]
        u = m.unit
        return [u.name, plan_name(u.doc, docs), " › ".join(u.context), m.summary, u.source,
                " / ".join(kpi_text(k) for k in m.kpis)]

    rows: list[list[object]] = [list(header)]
    rows += [["対応", p.strength, number(p.similarity.contrast), f"{p.similarity.combined:.3f}"]
             + cells(p.left) + cells(p.right) for p in comparison.pairs]
    rows += [[f"{left}のみ", "", "", ""] + cells(m) + cells(None) for m in comparison.only_left]
    rows += [[f"{right}のみ", "", "", ""] + cells(None) + cells(m) for m in comparison.only_right]
    return _csv_bytes(rows)


# ----------------------------------------------------------------------------- whole plans


def same_topic(similarity: Similarity, threshold: float) -> bool:
    """The whole-plan table's ✓: the pair reaches 部分的, decided on the printed 対比 like the memo."""
    return label(similarity.contrast, partial=threshold) != NONE_LABEL


def _group_title(row_measure: Measure) -> str:
    context = row_measure.unit.context
    return context[0] if context else clean_title(row_measure.unit.heading_path[-1])


def cross_reference_markdown(reference: CrossReference, link: Link = _plain_link) -> str:
    docs = reference.documents
    source = plan_name(reference.source_doc, docs)
    target_city = KUMAMOTO if reference.source_city == KURUME else KURUME
    out = [f"# 相互参照 / Cross-reference: {source} → {target_city}", "",
           f"{source}の目標・施策ごとに、{target_city}の計画で最も近い施策"
           + ("（計画ごとに1件）" if reference.per_doc else f"（上位{len(reference.rows[0].matches) if reference.rows else 0}件）")
           + f"。対比 {number(reference.threshold)} 以上は「同じテーマ」（✓）、未満は参考（–）。", ""]
    if reference.per_doc:
        columns = [plan_name(d, docs) for d in reference.target_docs]
    else:
        columns = [f"{target_city} {i}" for i in range(1, (len(reference.rows[0].matches) if reference.rows else 0) + 1)]
    out += ["| 目標 | 施策 | KPI | " + " | ".join(columns) + " |", "|---|---|---|" + "---|" * len(columns)]
    for row in reference.rows:
        unit = row.source.unit
        cells = []
        for match, similarity in row.matches:
            flag = "✓" if same_topic(similarity, reference.threshold) else "–"
            cells.append(f"{flag} {number(similarity.contrast, sign=True)} **{_md(match.unit.name)}**"
                         + (f"<br>{_md(' › '.join(match.unit.context[-1:]))}" if match.unit.context else "")
                         + f"<br>{link(match.unit.doc, match.unit.line_start, match.unit.line_end)}")
        goal = _md(_group_title(row.source)) if unit.kind != ChunkKind.GOAL else "（目標）"
        out.append(f"| {goal} | **{_md(unit.name)}**<br>{link(unit.doc, unit.line_start, unit.line_end)} "
                   f"| {_kpi_cell(row.source.kpis)} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def cross_reference_csv(reference: CrossReference) -> bytes:
    docs = reference.documents
    width = max((len(r.matches) for r in reference.rows), default=0)
    header = ["目標", "施策", "出典", "KPI"]
    for i in range(1, width + 1):
        header += [f"対応{i} 対比", f"対応{i} 同じテーマ", f"対応{i} 計画", f"対応{i} 施策", f"対応{i} 見出し", f"対応{i} 出典"]
    rows: list[list[object]] = [list(header)]
    for row in reference.rows:
        unit = row.source.unit
        line: list[object] = [_group_title(row.source) if unit.kind != ChunkKind.GOAL else "（目標）", unit.name, unit.source,
                              " / ".join(kpi_text(k) for k in row.source.kpis)]
        for match, similarity in row.matches:
            line += [number(similarity.contrast), "○" if same_topic(similarity, reference.threshold) else "",
                     plan_name(match.unit.doc, docs), match.unit.name, " › ".join(match.unit.context), match.unit.source]
        rows.append(line)
    return _csv_bytes(rows)
