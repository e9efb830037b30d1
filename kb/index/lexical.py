"""BM25 over lemma terms (bm25s), with per-term weights for expanded queries.

Terms come from :class:`kb.analysis.lemmas.JapaneseAnalyzer`, so the index is built from
the same lemmas the query is reduced to. bm25s scores a whole term list at once;
expanded queries give synonyms a lower weight, so they are scored term by term and
summed with their weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import bm25s

K1 = 1.2
B = 0.75


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, term_lists: Sequence[Sequence[str]], *, k1: float = K1, b: float = B) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        # bm25s needs at least one term per document; an empty chunk gets a filler
        # that no query produces.
        corpus = [list(terms) or ["\u0000empty"] for terms in term_lists]
        # A sorted vocabulary makes the saved files byte-identical from build to build
        # (bm25s would number terms in set order, which changes with PYTHONHASHSEED).
        vocabulary = {term: i for i, term in enumerate(sorted({t for terms in corpus for t in terms}))}
        ids = [[vocabulary[t] for t in terms] for terms in corpus]
        retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
        return cls(retriever, len(corpus))

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int, *, mmap: bool = False) -> LexicalIndex:
        """Read a saved index without importing bm25s (numba + scipy: ~0.5 s of every cold search).

        :meth:`scores` needs only the CSC arrays and the vocabulary that bm25s saved.
        """
        return cls(StoredBM25.load(Path(directory), mmap=mmap), size)

    def vocabulary(self) -> set[str]:
        return set(self.retriever.vocab_dict)

    def has_term(self, term: str) -> bool:
        return term in self.retriever.vocab_dict

    def scores(self, weighted_terms: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every chunk for the weighted query terms (unknown terms score 0).

        bm25s keeps each term's precomputed BM25 contributions as one column of a
        sparse matrix; a weighted query is the weighted sum of those columns, read
        straight from the CSC arrays (one numpy slice per term, no Python per doc).
        """
        total = np.zeros(self.size, dtype=np.float32)
        vocabulary = self.retriever.vocab_dict
        matrix = self.retriever.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        for term, weight in weighted_terms.items():
            column = vocabulary.get(term)
            if column is None or not weight:
                continue
            start, end = indptr[column], indptr[column + 1]
            total[indices[start:end]] += weight * data[start:end]
        return total


class StoredBM25:
    """The parts of a saved ``bm25s.BM25`` that scoring reads (``scores`` CSC arrays, ``vocab_dict``).

    Only the "lucene" method is supported: bm25l/bm25+ would also need the
    non-occurrence array, and :meth:`load` refuses such an index.
    """

    def __init__(self, scores: dict, vocab_dict: dict[str, int], params: dict) -> None:
        self.scores = scores
        self.vocab_dict = vocab_dict
        self.params = params

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = False) -> StoredBM25:
        import json

        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method", "lucene") not in ("lucene", "robertson", "atire"):
            raise ValueError(f"bm25s method {params.get('method')!r} needs bm25s itself to load")
        mode: Literal["r"] | None = "r" if mmap else None
        scores = {
            name: np.load(directory / f"{name}.csc.index.npy", mmap_mode=mode, allow_pickle=False)
            for name in ("data", "indices", "indptr")
        }
        scores["num_docs"] = params.get("num_docs")
        vocab = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
        return cls(scores, vocab, params)

