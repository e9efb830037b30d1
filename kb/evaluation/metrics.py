"""Recall evaluation: run the query set through each method and score it with ranx.

Relevance is judged on spans: a hit counts for a relevant passage when its line span
overlaps the passage (same document) and the hit covers at most
:data:`~kb.search.searcher.MAX_HIT_SPAN` lines, so returning a whole chapter never scores.
Each query's hits become a ranx run whose entries are the relevant passages a hit
found first (or a miss), in rank order; ranx then computes the metrics.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kb.search.searcher import MAX_HIT_SPAN, METHODS, Hit, Searcher

METRICS = ("recall@5", "recall@10", "mrr@10", "ndcg@10")
SPLITS = ("tune", "dev", "heldout", "blind", "blind_heldout", "blind2", "blind2_heldout")
#: Splits that may be used to choose settings or train on; the held-out splits never are.
TUNING_SPLITS = ("tune", "dev", "blind", "blind2")
#: The query set: tune + held-out (queries.jsonl), three dev files written later, and the
#: blind set (blind + blind_heldout) written by people who saw only the plan texts.
DEFAULT_QUERY_FILES = (
    Path("eval/queries.jsonl"),
    Path("eval/queries_dev.jsonl"),
    Path("eval/queries_dev2.jsonl"),
    Path("eval/queries_dev3.jsonl"),
    Path("eval/queries_blind_en.jsonl"),
    Path("eval/queries_blind_ja.jsonl"),
    Path("eval/queries_blind2_en.jsonl"),
    Path("eval/queries_blind2_ja.jsonl"),
)


@dataclass(frozen=True)
class Passage:
    doc: str
    start: int
    end: int
    note: str = ""


@dataclass(frozen=True)
class EvalQuery:
    id: str
    query: str
    lang: str
    type: str
    split: str
    relevant: tuple[Passage, ...]


@dataclass
class MethodReport:
    method: str
    overall: dict[str, float]
    by_type: dict[str, dict[str, float]]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The ranx run entries per query (for significance tests between methods).
    runs: dict[str, dict[str, float]] = field(default_factory=dict)


def load_query_files(paths: Sequence[Path]) -> list[EvalQuery]:
    """Queries of several files (the main set and the later dev split), ids unique across them."""
    queries = [q for path in paths if Path(path).is_file() for q in load_queries(path)]
    seen: set[str] = set()
    for query in queries:
        if query.id in seen:
            raise ValueError(f"duplicate query id {query.id}")
        seen.add(query.id)
    return queries


def load_queries(path: Path) -> list[EvalQuery]:
    queries = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            relevant = tuple(
                Passage(r["doc"], int(r["lines"][0]), int(r["lines"][1]), r.get("note", "")) for r in item["relevant"]
            )
            queries.append(
                EvalQuery(item["id"], item["query"], item.get("lang", "ja"), item.get("type", "other"),
                          item.get("split", "tune"), relevant)
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}:{number}: malformed query line ({exc})") from None
    return queries


def hit_matches(hit_doc: str, start: int, end: int, passage: Passage) -> bool:
    if end - start + 1 > MAX_HIT_SPAN:
        return False
    return hit_doc == passage.doc and start <= passage.end and passage.start <= end


def run_entries(hits: Sequence[Hit], relevant: Sequence[Passage]) -> dict[str, float]:
    """ranx run for one query: passage ids in the order hits first found them, misses in between."""
    entries: dict[str, float] = {}
    found: set[int] = set()
    position = 0
    for hit in hits:
        matched = [
            i for i, p in enumerate(relevant)
            if i not in found and hit_matches(hit.chunk.doc, hit.line_start, hit.line_end, p)
        ]
        if not matched:
            position += 1
            entries[f"miss-{hit.rank}"] = 1.0 / position
        for i in matched:
            position += 1
            found.add(i)
            entries[f"p{i}"] = 1.0 / position
    return entries


def score(queries: Sequence[EvalQuery], runs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-query metric values computed by ranx."""
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({q.id: {f"p{i}": 1 for i in range(len(q.relevant))} for q in queries})
    run = Run({q.id: (runs.get(q.id) or {"miss-none": 1.0}) for q in queries})
    values = evaluate(qrels, run, list(METRICS), return_mean=False, make_comparable=True)
    # ranx returns per-query values in its own (sorted) query order, not in ours.
    order = list(qrels.keys())
    return {qid: {m: float(values[m][i]) for m in METRICS} for i, qid in enumerate(order)}


def _mean(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    rows = list(rows)
    return {m: (sum(r[m] for r in rows) / len(rows) if rows else 0.0) for m in METRICS}


def evaluate_method(
    searcher: Searcher, queries: Sequence[EvalQuery], method: str, k: int = 10, *, signals: Sequence[str] | None = None,
    name: str | None = None,
) -> MethodReport:
    """One method over the queries; ``signals`` ranks with exactly those signals (a single field
    or encoder, or a fusion the default does not use), reported under ``name``."""
    runs = {}
    for q in queries:
        result = searcher.search(q.query, k=k, method=method, signals=signals)
        runs[q.id] = run_entries(result.hits, q.relevant)
    return report_from_runs(name or method, queries, runs)


def report_from_runs(method: str, queries: Sequence[EvalQuery], runs: dict[str, dict[str, float]]) -> MethodReport:
    """Metrics (overall, per type, and for English queries) of ready ranx run entries."""
    per_query = score(queries, runs)
    by_type: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q in queries:
        by_type[q.type].append(per_query[q.id])
        if q.lang == "en":
            by_type["lang:en"].append(per_query[q.id])
    return MethodReport(
        method=method,
        overall=_mean(per_query.values()),
        by_type={t: _mean(rows) for t, rows in sorted(by_type.items())},
        per_query=per_query,
        runs={q.id: runs.get(q.id) or {"miss-none": 1.0} for q in queries},
    )


def evaluate_all(
    searcher: Searcher, queries: Sequence[EvalQuery], methods: Sequence[str] = METHODS
) -> dict[str, MethodReport]:
    return {m: evaluate_method(searcher, queries, m) for m in methods}


def markdown_table(reports: dict[str, MethodReport], title: str) -> str:
    lines = [f"### {title}", "", "| method | type | n | " + " | ".join(METRICS) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for method, report in reports.items():
        n_total = len(report.per_query)
        lines.append(f"| **{method}** | **all** | {n_total} | " + " | ".join(f"**{report.overall[m]:.3f}**" for m in METRICS) + " |")
        for kind, values in report.by_type.items():
            lines.append(f"| {method} | {kind} | | " + " | ".join(f"{values[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def chart(reports_by_split: dict[str, dict[str, MethodReport]], path: Path) -> None:
    """Bar chart of Recall@10 and MRR@10 per method and split (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(reports_by_split)
    methods = list(next(iter(reports_by_split.values())))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    width = 0.8 / max(1, len(methods))
    for axis, metric in zip(axes, ("recall@10", "mrr@10")):
        for offset, method in enumerate(methods):
            values = [reports_by_split[s][method].overall[metric] for s in splits]
            positions = [i + offset * width for i in range(len(splits))]
            bars = axis.bar(positions, values, width, label=method)
            axis.bar_label(bars, fmt="%.2f", fontsize=8)
        axis.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(splits))], splits)
        axis.set_title(metric)
        axis.set_ylim(0, 1.05)
    axes[0].legend(loc="lower left")
    fig.suptitle("kb retrieval evaluation")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def worst_queries(queries: Sequence[EvalQuery], report: MethodReport, n: int = 5) -> list[tuple[EvalQuery, dict[str, float]]]:
    ranked = sorted(queries, key=lambda q: (report.per_query[q.id]["recall@10"], report.per_query[q.id]["mrr@10"]))
    return [(q, report.per_query[q.id]) for q in ranked[:n]]
