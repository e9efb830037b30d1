"""Data engine, stage 3: a second pass for missed positives (false negatives).

A question written from one passage often has other correct answers (the same measure in
the strategy and in the comprehensive plan; a KPI table beside its measure). Training that
calls them negatives teaches the ranker to push right answers down. This stage searches each
training question with the current engine and writes, for the questions where passages other
than the known positives rank above them, judge files: the question, its known passage and
those candidates (in shuffled order, without scores). Judges — helper sessions who see only
these passages — list the candidates that also answer; ``--apply`` adds them as positives.

    python -m eval.train.judge --questions eval/train/questions.jsonl --engine /tmp/kb-train --files 4
    python -m eval.train.judge --questions eval/train/questions.jsonl --engine /tmp/kb-train --apply
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from kb.evaluation.metrics import EvalQuery, hit_matches, load_queries
from kb.service import open_searcher

MAX_CANDIDATES = 5


def prepare(args: argparse.Namespace) -> None:
    searcher = open_searcher(args.index)
    passages = {p["chunk"]: p for p in _passages(args.engine)}
    rng = random.Random(7)
    items = []
    for query in load_queries(args.questions):
        if query.type == "collect":
            continue  # its positives are every literal mention already
        hits = searcher.search(query.query, k=10).hits
        first = next((h.rank for h in hits if any(hit_matches(h.chunk.doc, h.line_start, h.line_end, p)
                                                        for p in query.relevant)), 11)
        above = [h.chunk.id for h in hits if h.rank < first][:MAX_CANDIDATES]
        if above:
            rng.shuffle(above)
            items.append((query, above))
    rng.shuffle(items)
    items = items[: args.limit]
    known = {query.id: written_from(passages, query) for query, _ in items}
    for number in range(args.files):
        part = items[number::args.files]
        used = sorted({c for _, cands in part for c in cands} | {c for q, _ in part for c in known[q.id]})
        lines = ["# Questions", ""]
        for query, candidates in part:
            lines.append(f"## {query.id}\nquestion: {query.query}\nwritten from: {', '.join(passages[c]['pid'] for c in known[query.id])}"
                         f"\ncandidates: {', '.join(passages[c]['pid'] for c in candidates)}\n")
        lines += ["# Passages", ""]
        for chunk in used:
            p = passages[chunk]
            lines.append(f"### {p['pid']}\nsection: {p['section']}\n{p['text'].strip()}\n")
        (args.engine / f"judge_{number + 1}.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"{len(items)} questions to judge in {args.files} files under {args.engine}")


def _passages(engine: Path) -> list[dict]:
    return [json.loads(line) for line in (engine / "passages.jsonl").open(encoding="utf-8")]


def written_from(passages: dict[str, dict], query: EvalQuery) -> list[str]:
    """The chunk the question was written from: the first passage its first judged span overlaps."""
    return [c for c, p in passages.items() for r in query.relevant
            if hit_matches(p["doc"], p["lines"][0], p["lines"][1], r)][:1]


def apply(args: argparse.Namespace) -> None:
    by_pid = {p["pid"]: p for p in _passages(args.engine)}
    verdicts: dict[str, list[str]] = {}
    for path in sorted(args.engine.glob("judged_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            verdicts[str(item.get("id"))] = [p for p in item.get("also", []) if p in by_pid]
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    added = 0
    for row in rows:
        for pid in verdicts.get(row["id"], []):
            p = by_pid[pid]
            span = {"doc": p["doc"], "lines": p["lines"], "note": "judged: " + p["section"][:50]}
            if span["lines"] not in [r["lines"] for r in row["relevant"] if r["doc"] == p["doc"]]:
                row["relevant"].append(span)
                added += 1
        if row["id"] in verdicts:
            row["judged"] = True
    with args.questions.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(verdicts)} judged questions, {added} positives added")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--engine", type=Path, required=True)
    parser.add_argument("--index", default="index")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--limit", type=int, default=1600)
    parser.add_argument("--apply", action="store_true")
    args = parser.parse_args()
    apply(args) if args.apply else prepare(args)


if __name__ == "__main__":
    main()
