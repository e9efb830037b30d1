"""Each lever's contribution, on the held-out splits: the learned ranker with one piece taken away.

Variants (each a ranker trained here with the same seed and data, one thing changed):
the shipped ranker; without the synthetic questions (only the tuning splits); with the
JMdict field (the shipped ranker is trained without it); without the hand-set formula's score as a feature; the formula alone (no
ranker); and leave-one-plan-out — trained without any question that has a Kumamoto passage,
reported on the held-out questions that do (the figure for a plan staff add later).

    python -m eval.train.ablations --index index --cache /tmp/kb-train/features.npz --out eval/train/ablations.md
Only aggregate figures of the held-out splits are written.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kb.evaluation.metrics import DEFAULT_QUERY_FILES, EvalQuery, MethodReport, evaluate_method, load_query_files
from kb.rank.features import FEATURES
from kb.service import open_searcher
from kb.training.ranker import build_groups, source_keys, train
from kb.training.run import DROPPED, training_questions

HELD_OUT = ("heldout", "blind_heldout", "blind2_heldout")
LEFT_OUT_PLAN = "kumamoto-sousei-senryaku-2"
METRICS = ("recall@10", "mrr@10", "ndcg@10")


def significance(queries: Sequence[EvalQuery], reports: dict[str, MethodReport], base: str) -> dict[str, str]:
    from ranx import Qrels, Run, compare

    qrels = Qrels({q.id: {f"p{i}": 1 for i in range(len(q.relevant))} for q in queries})
    runs = [Run({q.id: r.runs[q.id] for q in queries}, name=name) for name, r in reports.items()]
    result = compare(qrels, runs, list(METRICS), stat_test="student", max_p=0.05, make_comparable=True).to_dict()
    out = {}
    for name in reports:
        if name == base:
            out[name] = ""
            continue
        p = result[base]["comparisons"].get(name, {})
        out[name] = ", ".join(f"{m.split('@')[0]} p={p.get(m, 1.0):.3f}{'*' if p.get(m, 1.0) < 0.05 else ''}"
                              for m in METRICS)
    return out


def table(title: str, queries: Sequence[EvalQuery], reports: dict[str, MethodReport], base: str) -> str:
    marks = significance(queries, reports, base)
    types = sorted({t for r in reports.values() for t in r.by_type})
    lines = [f"### {title} ({len(queries)} queries)", "",
             "| variant | recall@5 | recall@10 | mrr@10 | ndcg@10 | " + " | ".join(f"R@10 {t}" for t in types)
             + " | vs the default (ranx, t-test; * p<0.05) |",
             "|---|---|---|---|---|" + "---|" * len(types) + "---|"]
    for name, r in reports.items():
        o = r.overall
        lines.append(f"| {name} | {o['recall@5']:.3f} | {o['recall@10']:.3f} | {o['mrr@10']:.3f} | {o['ndcg@10']:.3f} | "
                     + " | ".join(f"{r.by_type.get(t, {}).get('recall@10', float('nan')):.3f}" for t in types)
                     + f" | {marks[name]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("eval/train/ablations.md"))
    parser.add_argument("--base-index", help="an index built with the untuned e5 (kb build --model "
                        "multilingual-e5-small-q4), for the 'without the tuned encoder' row")
    parser.add_argument("--base-ranker", help="the ranker trained on that index's features")
    args = parser.parse_args()
    featurer = open_searcher(args.index, ranker="formula", rank_features=True)
    pool = training_questions()
    groups = build_groups(featurer, pool, cache=args.cache)
    keys = source_keys(pool)
    synthetic = {q.id for q in pool if q.split == "train"}
    kumamoto = {q.id for q in pool if any(p.doc == LEFT_OUT_PLAN for p in q.relevant)}
    jmdict = [f for f in FEATURES if f.startswith("jmdict")]
    formula = [f for f in FEATURES if f.startswith("formula")]
    shipped = tuple(DROPPED)  # what the shipped ranker is trained without (kb/training/run.py)
    plans = {
        "without synthetic questions": ([g for g in groups if g.id not in synthetic], shipped),
        "with the JMdict field": (groups, tuple(d for d in shipped if d not in jmdict)),
        "without the formula's score": (groups, (*shipped, *formula)),
        f"leave {LEFT_OUT_PLAN} out": ([g for g in groups if g.id not in kumamoto], shipped),
    }
    held = [q for q in load_query_files(DEFAULT_QUERY_FILES) if q.split in HELD_OUT]
    default = "learned ranker (default)"
    reports: dict[str, MethodReport] = {
        default: evaluate_method(open_searcher(args.index, ranker="learned"), held, "hybrid", name=default),
        "formula, no ranker": evaluate_method(open_searcher(args.index, ranker="formula"), held, "hybrid"),
    }
    if args.base_index and args.base_ranker:
        name = "without the tuned encoder (base e5, its own ranker)"
        reports[name] = evaluate_method(open_searcher(args.base_index, ranker=args.base_ranker), held, "hybrid",
                                        name=name)
    with tempfile.TemporaryDirectory() as folder:
        for name, (part, drop) in plans.items():
            text, summary = train(part, keys, drop=drop)
            path = Path(folder) / "model.txt"
            path.write_text(text, encoding="utf-8")
            reports[name] = evaluate_method(open_searcher(args.index, ranker=str(path)), held, "hybrid", name=name)
            print(f"{name}: {summary['train']} questions, {summary['trees']} trees → "
                  f"R@10 {reports[name].overall['recall@10']:.3f}", flush=True)
    intro = ("Regenerate with `python -m eval.train.ablations --index index --cache FEATURES.npz`. Every variant is "
             "trained with the same seed on the same questions less one thing; the shipped ranker is the default.")
    sections = ["# Ablations of the learned ranker (held-out splits only)", "", intro, ""]
    for split in (*HELD_OUT, "all held-out"):
        subset = held if split == "all held-out" else [q for q in held if q.split == split]
        sub = {n: _subset(r, subset) for n, r in reports.items()}
        sections.append(table(split, subset, sub, default))
    plan_questions = [q for q in held if any(p.doc == LEFT_OUT_PLAN for p in q.relevant)]
    lopo = {n: _subset(reports[n], plan_questions) for n in (default, f"leave {LEFT_OUT_PLAN} out", "formula, no ranker")}
    in_domain = [q for q in held if not any(p.doc == LEFT_OUT_PLAN for p in q.relevant)]
    sections.append(table(f"held-out questions with a {LEFT_OUT_PLAN} passage (leave-one-plan-out)", plan_questions,
                          lopo, default))
    other = {n: _subset(reports[n], in_domain) for n in (default, f"leave {LEFT_OUT_PLAN} out")}
    sections.append(table(f"held-out questions without a {LEFT_OUT_PLAN} passage", in_domain, other, default))
    text = "\n".join(sections)
    print(text)
    args.out.write_text(text, encoding="utf-8")


def _subset(report: MethodReport, queries: Sequence[EvalQuery]) -> MethodReport:
    from kb.evaluation.metrics import report_from_runs

    return report_from_runs(report.method, queries, {q.id: report.runs[q.id] for q in queries})


if __name__ == "__main__":
    main()
