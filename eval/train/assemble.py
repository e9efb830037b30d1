"""Data engine, stage 2: the writers' questions become training questions with positives.

Each question's positive is the passage its writer read (its chunk's span). A `collect`
question ("every mention of X") has as positives every chunk whose text contains X
(width-folded), when X occurs in at most :data:`MAX_COLLECT` chunks; a term that common is
not a collect question any more and keeps its own passage only.

    python -m eval.train.assemble --engine /tmp/kb-train --out eval/train/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from kb.search.learned import fold  # the search's own notion of "contains the term"

MAX_COLLECT = 40
STYLE_TYPES = {"ja_natural": "ja_natural", "ja_keyword": "keyword", "en": "en", "ja_formal": "ja_formal",
               "kpi": "kpi", "collect": "collect", "cross_city": "cross_city"}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def language(query: str) -> str:
    latin = len(re.findall(r"[A-Za-z]", query))
    japanese = len(_JAPANESE.findall(query))
    return "en" if latin > 2 * japanese else "ja"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, required=True, help="folder with passages.jsonl and out/*.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    passages = {p["pid"]: p for p in map(json.loads, (args.engine / "passages.jsonl").read_text().splitlines())}
    folded = {pid: fold(p["text"]) for pid, p in passages.items()}
    questions, seen = [], set()
    counts: Counter[str] = Counter()
    for path in sorted((args.engine / "out").glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            query = str(item.get("query", "")).strip()
            style = item.get("style")
            pids = item.get("pids") or [item.get("pid")]
            if not query or style not in STYLE_TYPES or any(p not in passages for p in pids) or query in seen:
                continue
            seen.add(query)
            positives = list(dict.fromkeys(pids))
            kind = STYLE_TYPES[style]
            if style == "collect":
                term = fold(str(item.get("term", "")))
                mentions = [pid for pid, text in folded.items() if term and term in text]
                if term and 0 < len(mentions) <= MAX_COLLECT:
                    positives = list(dict.fromkeys(positives + mentions))
                else:
                    kind = "ja_natural" if language(query) == "ja" else "en"
            relevant = [{"doc": passages[p]["doc"], "lines": passages[p]["lines"], "note": passages[p]["section"][:60]}
                        for p in positives]
            questions.append({"id": f"t{len(questions) + 1:05d}", "query": query, "lang": language(query), "type": kind,
                              "split": "train", "source": f"{path.stem}:{number}", "persona": item.get("persona", ""),
                              "relevant": relevant})
            counts[kind] += 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for question in questions:
            out.write(json.dumps(question, ensure_ascii=False) + "\n")
    print(f"{len(questions)} training questions → {args.out}: {dict(counts)}")


if __name__ == "__main__":
    main()
