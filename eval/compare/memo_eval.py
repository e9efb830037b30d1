"""How the ``kb compare`` memo itself does on the labelled pairs, topic by topic.

Usage: .venv/bin/python eval/compare/memo_eval.py [--index index] [--out eval/compare/memo_results.md]

``tune.py`` scores the pair *rule* (contrast ≥ threshold) on every labelled pair. A memo
shows only the pairs its candidate selection brings up, so a change of candidates (which
measures each side draws on) can help or hurt without moving the rule's F0.5. This script
runs the memo for a fixed list of planner topics and counts, over the labelled pairs whose
two measures both appear in a topic's memo, how many the memo pairs (TP/FP) or leaves apart
(FN); a pair with a bare heading (kb.compare.units.is_bare) is left out of the count, since
the memo must not show one. It also lists which plans each side drew on and whether any bare heading was shown.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.compare.align import aligner_for, compare
from kb.compare.tuning import fbeta, load_pairs
from kb.compare.units import is_bare
from kb.service import open_searcher

HERE = Path(__file__).resolve().parent
#: The app's examples, the issue's topics and the themes the labelled pairs cover.
TOPICS = ("若い女性の転出", "子育て支援", "新卒者の地元就職", "観光振興", "防災・災害への備え", "DX・デジタル化",
          "移住定住", "企業誘致", "結婚・出産の希望", "高齢者の暮らし", "公共交通", "農業の担い手", "中心市街地の活性化",
          "文化・スポーツ", "人材の育成と確保")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--out", default=str(HERE / "memo_results.md"))
    args = parser.parse_args()
    searcher = open_searcher(args.index)
    aligner = aligner_for(searcher)
    labelled = load_pairs(HERE / "pairs.jsonl", aligner)
    tp = fp = fn = 0
    lines = ["# The compare memo on the labelled pairs", "",
             "| topic | 久留米市 plans drawn on | 熊本市 plans | labelled pairs in memo | TP | FP | FN | bare headings |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for topic in TOPICS:
        result = compare(searcher, topic)
        lefts = {m.unit.index for m in result.left_measures} | {r.measure.unit.index for r in result.rows}
        rights = {m.unit.index for m in result.right_measures} | {
            c.measure.unit.index for r in result.rows for c in r.counterparts}
        paired = {(p.left.unit.index, p.right.unit.index) for p in result.pairs}
        shown = [aligner.units[i] for i in lefts | rights]
        bare = {u.index for u in shown if is_bare(u.heading_path, [aligner.chunks[c].text for c in u.chunk_ids])}
        here = [p for p in labelled if p.left.index in lefts and p.right.index in rights
                and not {p.left.index, p.right.index} & bare]
        t = sum(p.same and (p.left.index, p.right.index) in paired for p in here)
        f = sum((not p.same) and (p.left.index, p.right.index) in paired for p in here)
        n = sum(p.same and (p.left.index, p.right.index) not in paired for p in here)
        tp, fp, fn = tp + t, fp + f, fn + n
        plans = [Counter(m.unit.doc.replace("kurume-", "").replace("kumamoto-", "") for m in ms)
                 for ms in (result.left_measures, result.right_measures)]
        lines.append(f"| {topic} | {', '.join(f'{d} {c}' for d, c in plans[0].items())} "
                     f"| {', '.join(f'{d} {c}' for d, c in plans[1].items())} | {len(here)} | {t} | {f} | {n} | {len(bare)} |")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    lines += ["", (f"All topics: TP {tp}, FP {fp}, FN {fn}: precision {precision:.3f}, recall {recall:.3f}, "
                   f"F0.5 {fbeta(precision, recall):.3f}.")]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
