"""Dense-only retrieval metrics for the encoder experiment (:mod:`kb.training.encoder`).

Why separate from :mod:`kb.evaluation.metrics`: that module scores whole searches (merged
hits, fusion); the encoder is judged on its own ranking of chunks, with the vectors held
in memory, so a tuned model can be compared with the base without writing any index.
Held-out splits are dropped as soon as a line's ``split`` field is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kb.chunk import Chunk

#: Evaluation files and the one split of each that may be read (held-out splits never are).
EVAL_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "dev": (("eval/queries_dev.jsonl", "dev"),),
    "dev2": (("eval/queries_dev2.jsonl", "dev"),),
    "dev3": (("eval/queries_dev3.jsonl", "dev"),),
    "blind": (("eval/queries_blind_en.jsonl", "blind"), ("eval/queries_blind_ja.jsonl", "blind")),
    "blind2": (("eval/queries_blind2_en.jsonl", "blind2"), ("eval/queries_blind2_ja.jsonl", "blind2")),
}
FORBIDDEN_SPLITS = frozenset({"heldout", "blind_heldout", "blind2_heldout"})


def eval_questions(root: Path = Path(".")) -> dict[str, list[Any]]:
    """The evaluation questions per file group, keeping only the split each file may give.

    Lines of any held-out split are dropped as soon as their ``split`` field is read.
    """
    from kb.evaluation.metrics import EvalQuery, Passage

    groups: dict[str, list[Any]] = {}
    for name, files in EVAL_FILES.items():
        items = []
        for path, split in files:
            for line in (root / path).read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if item.get("split") != split or item.get("split") in FORBIDDEN_SPLITS:
                    continue
                relevant = tuple(Passage(r["doc"], int(r["lines"][0]), int(r["lines"][1]), r.get("note", ""))
                                 for r in item["relevant"])
                items.append(EvalQuery(item["id"], item["query"], item.get("lang", "ja"), item.get("type", "other"),
                                       split, relevant))
        groups[name] = items
    return groups


def dense_metrics(questions: Sequence[Any], chunks: Sequence[Chunk], query_vectors: np.ndarray,
                  chunk_vectors: np.ndarray, k: int = 10) -> list[tuple[float, float]]:
    """Per question (Recall@k, reciprocal rank within k) of the dense-only ranking.

    Recall: the share of the question's relevant passages that some top-k chunk overlaps
    (same doc, overlapping lines); reciprocal rank: of the first such chunk.
    """
    out = []
    for number, question in enumerate(questions):
        top = np.argsort(-(chunk_vectors @ query_vectors[number]), kind="stable")[:k]
        found = [any(chunks[i].doc == p.doc and chunks[i].line_start <= p.end and p.start <= chunks[i].line_end
                     for i in top) for p in question.relevant]
        first = next((rank for rank, i in enumerate(top, start=1)
                      if any(chunks[i].doc == p.doc and chunks[i].line_start <= p.end and p.start <= chunks[i].line_end
                             for p in question.relevant)), None)
        out.append((sum(found) / len(found), 1.0 / first if first else 0.0))
    return out
