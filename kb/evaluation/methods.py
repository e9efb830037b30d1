"""Every signal and every fusion, per query type, on every split, with significance tests.

``python -m kb.evaluation.methods --index IDX [--out eval/methods.md]`` runs the query set
through each single signal (lemma BM25, Sudachi BM25, e5, USE), the fusions built from
them, and reads the previous default engine's runs from ``eval/runs/`` (made once with
that engine's code; see eval/README.md). For each split it prints the metrics per query
type and a ``ranx.compare`` table: the default against the previous default and against
each single signal (paired Student's t-test, p < 0.05 marked).

The USE rows need an index built with ``kb build --second-encoder``; without one they are
left out. Only aggregate figures are written: per-query results of the held-out splits
are never shown.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kb.domain import Signal
from kb.evaluation.metrics import (
    DEFAULT_QUERY_FILES,
    SPLITS,
    EvalQuery,
    MethodReport,
    evaluate_method,
    load_query_files,
    markdown_table,
    report_from_runs,
)
from kb.search.searcher import Searcher

DEFAULT = "hybrid (default)"
PREVIOUS = "previous default"
RUNS_DIR = Path("eval/runs")
PREVIOUS_RUNS = RUNS_DIR / "ba733f8.json"
COMPARED_METRICS = ("recall@10", "mrr@10", "ndcg@10")
MAX_P = 0.05
#: The weight USE gets in the fusions that include it: the best of 0.1–0.8 on the tuning splits.
USE_WEIGHT = 0.15


@dataclass(frozen=True)
class Variant:
    name: str
    method: str = "hybrid"
    signals: tuple[str, ...] | None = None
    config: dict = field(default_factory=dict)
    needs_use: bool = False


#: The hand-set fusion (the default before the learned ranker): naming the signals bypasses the ranker.
FORMULA = "formula (hand-set fusion)"

VARIANTS = (
    Variant(DEFAULT),
    Variant(FORMULA, signals=("lexical", "sudachi", "dense")),
    Variant("hybrid + USE", signals=tuple(Signal), config={"use_weight": USE_WEIGHT}, needs_use=True),
    Variant("hybrid, fixed weights", signals=("lexical", "sudachi", "dense"),
            config={"flatness_gain": 0.0, "kpi_dense_factor": 1.0, "dense_weight": 0.5}),
    Variant("lemma + e5 (no Sudachi)", signals=("lexical", "dense")),
    Variant("lemma + Sudachi", method="lexical"),
    Variant("e5 + USE", signals=("dense", "use"), config={"use_weight": 0.6}, needs_use=True),
    Variant("lemma BM25", signals=("lexical",)),
    Variant("Sudachi BM25", signals=("sudachi",)),
    Variant("e5", signals=("dense",)),
    Variant("USE", signals=("use",), needs_use=True),
)
SINGLE = ("lemma BM25", "Sudachi BM25", "e5", "USE")


def run_variants(
    searcher: Searcher, queries: Sequence[EvalQuery], variants: Sequence[Variant] = VARIANTS
) -> dict[str, MethodReport]:
    base = searcher.config
    out: dict[str, MethodReport] = {}
    for variant in variants:
        if variant.needs_use and searcher.use_embedder is None:
            continue
        searcher.config = replace(base, **variant.config)
        try:
            out[variant.name] = evaluate_method(searcher, queries, variant.method, signals=variant.signals,
                                                name=variant.name)
        finally:
            searcher.config = base
    return out


def previous_runs(path: Path = PREVIOUS_RUNS) -> dict[str, dict[str, float]] | None:
    if not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))["runs"]["hybrid"]


def significance(queries: Sequence[EvalQuery], reports: dict[str, MethodReport]) -> str:
    """ranx.compare of the default against the previous default and every single signal."""
    from ranx import Qrels, Run, compare

    names = [DEFAULT] + [n for n in (PREVIOUS, FORMULA, *SINGLE) if n in reports]
    qrels = Qrels({q.id: {f"p{i}": 1 for i in range(len(q.relevant))} for q in queries})
    runs = []
    for name in names:
        run = Run({q.id: reports[name].runs[q.id] for q in queries}, name=name)
        runs.append(run)
    result = compare(qrels, runs, list(COMPARED_METRICS), stat_test="student", max_p=MAX_P,
                     make_comparable=True).to_dict()
    lines = ["| run | " + " | ".join(COMPARED_METRICS) + f" | default better (p < {MAX_P}) on |",
             "|---|" + "---|" * len(COMPARED_METRICS) + "---|"]
    for name in names:
        scores = result[name]["scores"]
        if name == DEFAULT:
            verdict = ""
        else:
            pvalues = result[DEFAULT]["comparisons"].get(name, {})
            better = [m for m in COMPARED_METRICS
                      if pvalues.get(m, 1.0) < MAX_P and result[DEFAULT]["scores"][m] > scores[m]]
            worse = [m for m in COMPARED_METRICS if pvalues.get(m, 1.0) < MAX_P and result[DEFAULT]["scores"][m] < scores[m]]
            verdict = ", ".join(better) or "—"
            if worse:
                verdict += f" (worse on {', '.join(worse)})"
            verdict += " · p = " + ", ".join(f"{pvalues.get(m, 1.0):.3f}" for m in COMPARED_METRICS)
        lines.append(f"| {name} | " + " | ".join(f"{scores[m]:.3f}" for m in COMPARED_METRICS) + f" | {verdict} |")
    return "\n".join(lines) + "\n"


def build_report(searcher: Searcher, queries: Sequence[EvalQuery], previous: dict[str, Any] | None,
                 splits: Sequence[str] = (*SPLITS, "blind + blind_heldout", "blind2 + blind2_heldout")) -> str:
    everything = run_variants(searcher, queries)
    sections = []
    for split in splits:
        wanted = tuple(part.strip() for part in split.split("+"))
        subset = [q for q in queries if q.split in wanted]
        if not subset:
            continue
        reports = {name: report_from_runs(name, subset, {q.id: r.runs[q.id] for q in subset})
                   for name, r in everything.items()}
        if previous is not None and all(q.id in previous for q in subset):  # its runs predate the blind2 files
            reports = {DEFAULT: reports[DEFAULT], PREVIOUS: report_from_runs(PREVIOUS, subset, previous)} | reports
        sections.append(markdown_table(reports, f"{split} ({len(subset)} queries)"))
        sections.append(f"Significance ({split}): ranx.compare, paired Student's t-test.\n\n"
                        + significance(subset, reports))
    return "\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    from kb.search.searcher import SearchConfig
    from kb.service import open_searcher

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=None)
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to write (eval/methods.md)")
    parser.add_argument("--previous", type=Path, default=PREVIOUS_RUNS)
    parser.add_argument("--splits", default=",".join((*SPLITS, "blind + blind_heldout", "blind2 + blind2_heldout")),
                        help="comma-separated; e.g. tune,dev,blind while tuning (never the held-out ones)")
    args = parser.parse_args(argv)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    searcher = open_searcher(args.index, config=SearchConfig(use_weight=USE_WEIGHT))
    searcher.config = SearchConfig()  # the default; variants that use USE set its weight
    used = {part for s in splits for part in s.split(" + ")}
    queries = [q for q in load_query_files(DEFAULT_QUERY_FILES) if q.split in used]
    text = build_report(searcher, queries, previous_runs(args.previous), splits)
    header = (
        "# Every method, per type and split\n\nRegenerate with `python -m kb.evaluation.methods --index IDX "
        "--out eval/methods.md` (the USE rows need `kb build --second-encoder`). "
        f"Previous default: the engine of commit ba733f8, runs in `{args.previous}`. "
        "tune, dev, blind and blind2 were used to choose settings and to train the ranker; heldout, blind_heldout "
        "and blind2_heldout never were.\n\n"
    )
    print(text)
    if args.out:
        args.out.write_text(header + text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
