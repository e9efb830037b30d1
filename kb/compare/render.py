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

from kb.compare.align import Comparison, CrossReference, Measure, Similarity, clean_title
from kb.domain import ChunkKind, SourceSpan
from kb.ingest.corpus import KUMAMOTO, KURUME
from kb.kpi.extract import Kpi

#: Short plan names by the manifest's ``kind`` (a planner says 総合計画, not the file name).
PLAN_NAMES = {
    "地方創生総合戦略": "総合戦略",
    "総合計画": "総合計画",
    "連携中枢都市圏ビジョン": "広域ビジョン",
    "ウェブページ": "ウェブ",
}
#: KPIs shown per measure in a table cell; the detail list shows all.
CELL_KPIS = 3
#: A Kurume measure with several counterparts is written once; the rows below say 〃.
SAME_AS_ABOVE = "〃"

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


def comparison_markdown(comparison: Comparison, link: Link = _plain_link) -> str:
    docs = comparison.documents
    out = [
        f"# 比較 / Comparison: {comparison.query}",
        "",
        ("久留米市（総合戦略・総合計画・広域ビジョン） × 熊本市（第2期総合戦略）。"
        f"類似度 = {comparison.dense_weight:.1f}×意味（埋め込み）+ {1 - comparison.dense_weight:.1f}×語の重なり（見出し語）。"
        f"{comparison.threshold:.3f} 以上を「同じテーマ」と判定（ラベル付きの施策ペアで F1 最大化により決定）。"),
        "",
        f"## 対応する施策 / Matched measures ({len(comparison.pairs)})",
        "",
    ]
    if comparison.no_clear_match:
        out[-2:-2] = [("関連の薄い結果です / No clear match: 話題の言葉が計画書に見当たりません "
                      "(no word of the topic occurs in the plans)."), ""]
    if comparison.pairs:
        out += ["| 類似度 | 久留米市 | 久留米市のKPI | 熊本市 | 熊本市のKPI |", "|---:|---|---|---|---|"]
        previous = None
        for pair in comparison.pairs:
            same = previous is not None and previous.kurume.unit.index == pair.kurume.unit.index
            kurume = (SAME_AS_ABOVE, SAME_AS_ABOVE) if same else (
                measure_cell(pair.kurume, docs, link), _kpi_cell(pair.kurume.kpis))
            out.append(
                f"| {pair.similarity.combined:.3f} | {kurume[0]} | {kurume[1]} "
                f"| {measure_cell(pair.kumamoto, docs, link)} | {_kpi_cell(pair.kumamoto.kpis)} |"
            )
            previous = pair
        if any(not p.kurume.retrieved or not p.kumamoto.retrieved for p in comparison.pairs):
            out += ["", "※ 検索結果の上位にはないが、相手都市の施策に最も近い施策 / closest counterpart outside the top results."]
    else:
        out.append("対応する施策はありません / no pair reaches the threshold.")
    for title, measures in (
        ("久留米市のみ / Only in Kurume", comparison.only_kurume),
        ("熊本市のみ / Only in Kumamoto", comparison.only_kumamoto),
    ):
        out += ["", f"## {title} ({len(measures)})", ""]
        if not measures:
            out.append("なし / none: every measure listed has a counterpart in the other city's plans.")
            continue
        out += ["| 施策 | KPI |", "|---|---|"]
        out += [f"| {measure_cell(m, docs, link)} | {_kpi_cell(m.kpis)} |" for m in measures]
    for city, measures in ((KURUME, comparison.kurume), (KUMAMOTO, comparison.kumamoto)):
        out += ["", f"## {city}の施策（検索順） / {('Kurume' if city == KURUME else 'Kumamoto')} measures, by relevance", ""]
        if not measures:
            out.append("該当なし / nothing found.")
        for number, measure in enumerate(measures, start=1):
            unit = measure.unit
            out.append(f"{number}. **{unit.name}** — {plan_name(unit.doc, docs)}"
                       + (f" › {' › '.join(unit.context)}" if unit.context else "")
                       + f" — {link(unit.doc, unit.line_start, unit.line_end)}")
            for kpi in measure.kpis:
                out.append(f"   - {kpi_text(kpi)} ({link(kpi.doc, kpi.line_start, kpi.line_end)})")
    return "\n".join(out) + "\n"


def comparison_json(comparison: Comparison) -> dict:
    def measure(m: Measure) -> dict:
        u = m.unit
        return {"name": u.name, "doc": u.doc, "city": u.city, "area": u.area, "kind": u.kind,
                "heading_path": list(u.heading_path), "line_start": u.line_start, "line_end": u.line_end,
                "score": round(m.score, 6), "retrieved": m.retrieved, "kpis": [k.to_json() for k in m.kpis]}

    def similarity(s: Similarity) -> dict:
        return {"combined": round(s.combined, 4), "dense": round(s.dense, 4), "lexical": round(s.lexical, 4)}

    return {
        "query": comparison.query,
        "no_clear_match": comparison.no_clear_match,
        "threshold": comparison.threshold,
        "dense_weight": comparison.dense_weight,
        "kurume": [measure(m) for m in comparison.kurume],
        "kumamoto": [measure(m) for m in comparison.kumamoto],
        "pairs": [{"kurume": measure(p.kurume), "kumamoto": measure(p.kumamoto),
                   "similarity": similarity(p.similarity)} for p in comparison.pairs],
        "only_kurume": [measure(m) for m in comparison.only_kurume],
        "only_kumamoto": [measure(m) for m in comparison.only_kumamoto],
    }


def _csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def comparison_csv(comparison: Comparison) -> bytes:
    """One row per matched pair, then one per unmatched measure (UTF-8 with BOM for Excel)."""
    docs = comparison.documents
    header = ["区分", "類似度", "久留米市 施策", "久留米市 計画", "久留米市 見出し", "久留米市 出典", "久留米市 KPI",
              "熊本市 施策", "熊本市 計画", "熊本市 見出し", "熊本市 出典", "熊本市 KPI"]

    def cells(m: Measure | None) -> list[object]:
        if m is None:
            return ["", "", "", "", ""]
        u = m.unit
        return [u.name, plan_name(u.doc, docs), " › ".join(u.context), u.source, " / ".join(kpi_text(k) for k in m.kpis)]

    rows: list[list[object]] = [list(header)]
    rows += [["対応", f"{p.similarity.combined:.3f}"] + cells(p.kurume) + cells(p.kumamoto) for p in comparison.pairs]
    rows += [["久留米市のみ", ""] + cells(m) + cells(None) for m in comparison.only_kurume]
    rows += [["熊本市のみ", ""] + cells(None) + cells(m) for m in comparison.only_kumamoto]
    return _csv_bytes(rows)


# ----------------------------------------------------------------------------- whole plans


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
           + f"。類似度 {reference.threshold:.3f} 以上は「同じテーマ」（✓）、未満は参考（–）。", ""]
    if reference.per_doc:
        columns = [plan_name(d, docs) for d in reference.target_docs]
    else:
        columns = [f"{target_city} {i}" for i in range(1, (len(reference.rows[0].matches) if reference.rows else 0) + 1)]
    out += ["| 目標 | 施策 | KPI | " + " | ".join(columns) + " |", "|---|---|---|" + "---|" * len(columns)]
    for row in reference.rows:
        unit = row.source.unit
        cells = []
        for match, similarity in row.matches:
            flag = "✓" if similarity.combined >= reference.threshold else "–"
            cells.append(f"{flag} {similarity.combined:.3f} **{_md(match.unit.name)}**"
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
        header += [f"対応{i} 類似度", f"対応{i} 同じテーマ", f"対応{i} 計画", f"対応{i} 施策", f"対応{i} 見出し", f"対応{i} 出典"]
    rows: list[list[object]] = [list(header)]
    for row in reference.rows:
        unit = row.source.unit
        line: list[object] = [_group_title(row.source) if unit.kind != ChunkKind.GOAL else "（目標）", unit.name, unit.source,
                              " / ".join(kpi_text(k) for k in row.source.kpis)]
        for match, similarity in row.matches:
            line += [f"{similarity.combined:.3f}", "○" if similarity.combined >= reference.threshold else "",
                     plan_name(match.unit.doc, docs), match.unit.name, " › ".join(match.unit.context), match.unit.source]
        rows.append(line)
    return _csv_bytes(rows)
