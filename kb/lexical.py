"""BM25 over lemma terms (bm25s), with per-term weights for expanded queries.

Terms come from :class:`kb.analysis.JapaneseAnalyzer`, so the index is built from
the same lemmas the query is reduced to. bm25s scores a whole term list at once;
expanded queries give synonyms a lower weight, so they are scored term by term and
summed with their weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75


class LexicalIndex:
    def __init__(self, retriever, size: int) -> None:  # type: ignore[no-untyped-def]
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, term_lists: Sequence[Sequence[str]], *, k1: float = K1, b: float = B) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        # bm25s needs at least one term per document; an empty chunk gets a filler
        # that no query produces.
        corpus = [list(terms) or ["\u0000empty"] for terms in term_lists]
        retriever.index(corpus, show_progress=False)
        return cls(retriever, len(corpus))

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int) -> "LexicalIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(directory), show_progress=False), size)

    def vocabulary(self) -> set[str]:
        return set(self.retriever.vocab_dict)

    def scores(self, weighted_terms: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every chunk for the weighted query terms (unknown terms score 0)."""
        total = np.zeros(self.size, dtype=np.float32)
        vocabulary = self.retriever.vocab_dict
        for term, weight in weighted_terms.items():
            if term in vocabulary and weight:
                total += weight * np.asarray(self.retriever.get_scores([term]), dtype=np.float32)
        return total
