"""BM25 over lemma terms (bm25s), with per-term weights for expanded queries.

Terms come from :class:`kb.analysis.lemmas.JapaneseAnalyzer`, so the index is built from
the same lemmas the query is reduced to. bm25s scores a whole term list at once;
expanded queries give synonyms a lower weight, so they are scored term by term and
summed with their weights.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

K1 = 1.2
B = 0.75


#: Filler for a document without terms (bm25s needs one term per document); no query produces it.
EMPTY = "\u0000empty"
#: From this many chunks on, :meth:`LexicalIndex.scores` sums the posting columns in one compiled
#: loop (numba) instead of numpy slices: the same float32 sums, ~3× faster at 10^6 chunks, for
#: a one-off ~0.3 s import (+ ~0.7 s compile, cached on disk after the first process) that a small
#: index should not pay on a cold search.
COMPILED_MIN_DOCS = 50_000
#: Term lists a build holds at a time while it streams a field into the builder (the
#: files do not depend on it).
TERM_BATCH = 2048
#: From this many documents on the posting arrays are memory-mapped (:meth:`LexicalIndex.load`).
MMAP_MIN_DOCS = 50_000
#: The bm25s version whose files (``params.index.json`` "version") the builder writes.
BM25S_FORMAT = "0.3.16"


class Postings(Protocol):
    """What scoring reads: the CSC arrays and the vocabulary (a :class:`StoredBM25`)."""

    scores: dict
    vocab_dict: dict[str, int]

    def save(self, directory: Path) -> None: ...


class LexicalIndex:
    def __init__(self, retriever: Postings, size: int) -> None:
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, term_lists: Iterable[Sequence[str]], *, k1: float = K1, b: float = B) -> LexicalIndex:
        """Index term lists in memory (:class:`StreamingBM25Builder`: the same scores and files as bm25s)."""
        builder = StreamingBM25Builder(k1=k1, b=b)
        builder.add(term_lists)
        stored = builder.finish()
        return cls(stored, int(stored.params["num_docs"]))

    @classmethod
    def build_to(cls, term_lists: Iterable[Sequence[str]], directory: Path, *, k1: float = K1, b: float = B,
                 batch: int = 20_000) -> int:
        """Index a stream of term lists straight into ``directory``; returns the number of documents.

        Memory stays at the final CSC arrays (8 bytes a posting) plus one batch: the
        postings of each batch are spilled to a temporary directory beside ``directory``.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        builder = StreamingBM25Builder(k1=k1, b=b, spill_dir=directory.parent)
        block: list[Sequence[str]] = []
        for terms in term_lists:
            block.append(terms)
            if len(block) >= batch:
                builder.add(block)
                block = []
        builder.add(block)
        stored = builder.finish()
        size = int(stored.params["num_docs"])
        cls(stored, size).save(directory)
        return size

    def save(self, directory: Path) -> None:
        self.retriever.save(Path(directory))

    @classmethod
    def load(cls, directory: Path, size: int, *, mmap: bool | None = None) -> LexicalIndex:
        """Read a saved index without importing bm25s (numba + scipy: ~0.5 s of every cold search).

        :meth:`scores` needs only the CSC arrays and the vocabulary that bm25s saved. From
        :data:`MMAP_MIN_DOCS` chunks on (unless ``mmap`` says otherwise) they are memory-mapped,
        not read: at 10^6 chunks the two BM25 fields hold ~1.1 GB of postings, and mapped
        pages are page cache the kernel can drop and share between processes (the app's
        workers, a rebuilt index's reader), as Lucene relies on, rather than private heap. An
        index large enough for the compiled loop starts loading it (numba import and cached
        machine code, ~1 s) in the background now, so the first query does not wait for it.
        """
        if size >= COMPILED_MIN_DOCS:
            threading.Thread(target=warm_compiled_sum, name="kb-bm25-warm", daemon=True).start()
        return cls(StoredBM25.load(Path(directory), mmap=size >= MMAP_MIN_DOCS if mmap is None else mmap), size)

    def vocabulary(self) -> set[str]:
        return set(self.retriever.vocab_dict)

    def has_term(self, term: str) -> bool:
        return term in self.retriever.vocab_dict

    def chunks_with(self, term: str) -> np.ndarray:
        """Ids of the chunks that contain ``term`` (its posting list; empty when unknown)."""
        column = self.retriever.vocab_dict.get(term)
        if column is None:
            return np.zeros(0, dtype=np.int64)
        matrix = self.retriever.scores
        start, end = matrix["indptr"][column], matrix["indptr"][column + 1]
        return np.asarray(matrix["indices"][start:end], dtype=np.int64)

    def scores(self, weighted_terms: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every chunk for the weighted query terms (unknown terms score 0).

        bm25s keeps each term's precomputed BM25 contributions as one column of a
        sparse matrix; a weighted query is the weighted sum of those columns, read
        straight from the CSC arrays. Small indexes take one numpy slice per term; from
        :data:`COMPILED_MIN_DOCS` chunks on, one compiled loop adds every posting once
        (numpy's ``total[idx] += w * data`` makes a product array, a gather and a
        scatter per term: at 10^6 chunks an expanded query touches 1.6 M postings on
        average, 3.7 M at p95). Both add the terms in the same order in float32, so the
        scores are bit-for-bit the same.
        """
        total = np.zeros(self.size, dtype=np.float32)
        vocabulary = self.retriever.vocab_dict
        matrix = self.retriever.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        columns = [(column, weight) for term, weight in weighted_terms.items()
                   if weight and (column := vocabulary.get(term)) is not None]
        kernel = _compiled_sum() if self.size >= COMPILED_MIN_DOCS and columns else None
        if kernel is not None:
            at = np.array([c for c, _ in columns], dtype=np.int64)
            weights = np.array([w for _, w in columns], dtype=np.float32)
            kernel(total, data, indices, np.asarray(indptr[at]), np.asarray(indptr[at + 1]), weights)
            return total
        for column, weight in columns:
            start, end = indptr[column], indptr[column + 1]
            total[indices[start:end]] += weight * data[start:end]
        return total


_KERNEL: list = []


def _compiled_sum():  # type: ignore[no-untyped-def]
    """The numba loop behind :meth:`LexicalIndex.scores` for large indexes (None without numba)."""
    if not _KERNEL:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba comes with ranx
            _KERNEL.append(None)
            return None

        def weighted_column_sum(total, data, indices, starts, ends, weights):  # type: ignore[no-untyped-def]
            for t in range(len(starts)):
                weight = weights[t]  # float32, as numpy casts the Python weight in ``weight * data``
                for j in range(starts[t], ends[t]):
                    total[indices[j]] += weight * data[j]

        try:  # cached next to this module (or numba's user cache): later processes skip the ~0.7 s compile
            kernel = numba.njit(nogil=True, cache=True)(weighted_column_sum)
        except RuntimeError:  # no writable cache location
            kernel = numba.njit(nogil=True)(weighted_column_sum)
        _KERNEL.append(kernel)
    return _KERNEL[0]


def warm_compiled_sum() -> None:
    """Load (or compile) the numba loop and run it once on a one-posting column."""
    kernel = _compiled_sum()
    if kernel is not None:
        one = np.ones(1, dtype=np.float32)
        kernel(np.zeros(1, dtype=np.float32), one, np.zeros(1, dtype=np.int32),
               np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64), one)


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


    def save(self, directory: Path) -> None:
        """Write the files ``bm25s.BM25.save`` writes (and :meth:`load` reads), byte for byte."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("data", "indices", "indptr"):
            np.save(directory / f"{name}.csc.index.npy", self.scores[name], allow_pickle=False)
        (directory / "vocab.index.json").write_text(
            json.dumps(self.vocab_dict, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        with open(directory / "params.index.json", "w") as handle:
            json.dump(self.params, handle, indent=4)


class StreamingBM25Builder:
    """BM25 ("lucene" variant, as bm25s computes it) built batch by batch, never holding the corpus.

    :meth:`add` turns each batch of term lists into (term, document, tf) postings and
    appends them to spill files (12 bytes a posting), counting document frequencies and
    lengths as it goes; :meth:`finish` numbers the vocabulary in sorted order, computes
    idf and the length norm, and places every posting into its column by a counting sort
    (the documents of a column stay in order because batches arrive in order). The
    result equals ``bm25s.BM25(k1, b).index(...)`` on the same sorted vocabulary: the
    same float32 scores (computed with bm25s's float64 intermediates), the same CSC
    arrays, the same vocabulary with bm25s's trailing "" entry.
    Peak memory: the final ``data`` + ``indices`` (8 bytes a posting), one batch, and a
    read window of the spill files.
    """

    WINDOW = 4_000_000  # postings read back at a time in finish()

    def __init__(self, *, k1: float = K1, b: float = B, spill_dir: Path | None = None) -> None:
        self.k1, self.b = k1, b
        self._terms: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._lengths: list[np.ndarray] = []
        self._docs = 0
        self._postings = 0
        self._spill = Path(tempfile.mkdtemp(prefix="kb-bm25-", dir=spill_dir))
        self._files = {name: open(self._spill / name, "wb") for name in ("term", "doc", "tf")}  # noqa: SIM115 - closed in finish()

    def add(self, term_lists: Iterable[Sequence[str]]) -> None:
        ids: list[int] = []
        lengths: list[int] = []
        terms = self._terms
        for doc_terms in term_lists:
            doc_terms = doc_terms or (EMPTY,)
            for term in doc_terms:
                number = terms.get(term)
                if number is None:
                    number = terms[term] = len(terms)
                ids.append(number)
            lengths.append(len(doc_terms))
        if not lengths:
            return
        length_array = np.asarray(lengths, dtype=np.int64)
        local = np.repeat(np.arange(len(lengths), dtype=np.int64), length_array)
        keys, tf = np.unique((local << 32) | np.asarray(ids, dtype=np.int64), return_counts=True)
        term_ids = (keys & 0xFFFFFFFF).astype(np.int32)
        doc_ids = ((keys >> 32) + self._docs).astype(np.int32)
        if len(terms) > len(self._df):
            self._df = np.concatenate([self._df, np.zeros(max(len(terms), 2 * len(self._df)) - len(self._df), np.int64)])
        self._df[: len(terms)] += np.bincount(term_ids, minlength=len(terms))
        term_ids.tofile(self._files["term"])
        doc_ids.tofile(self._files["doc"])
        tf.astype(np.float32).tofile(self._files["tf"])
        self._lengths.append(length_array)
        self._docs += len(lengths)
        self._postings += len(keys)

    def finish(self) -> StoredBM25:
        try:
            for handle in self._files.values():
                handle.close()
            return self._assemble()
        finally:
            shutil.rmtree(self._spill, ignore_errors=True)

    def _assemble(self) -> StoredBM25:
        k1, b = self.k1, self.b
        n_docs = self._docs
        names = list(self._terms)
        self._terms = {}
        order = sorted(range(len(names)), key=names.__getitem__)
        column_of = np.empty(len(names), dtype=np.int64)
        column_of[np.asarray(order, dtype=np.int64)] = np.arange(len(names))
        df = self._df[: len(names)][order]
        # bm25s: idf by math.log into a float32 array; avgdl as the float64 mean of an int array.
        idf = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float32)
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        self._lengths = []
        avg_len = lengths.mean() if n_docs else 0.0
        norm = k1 * ((1 - b) + b * lengths / avg_len) if n_docs else np.zeros(0)  # float64, per document
        del lengths
        indptr = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        data = np.empty(self._postings, dtype=np.float32)
        indices = np.empty(self._postings, dtype=np.int32)
        heads = indptr[:-1].copy()
        # Read back with plain reads, not a memory map: mapped pages would count in the
        # process's resident memory (12 bytes a posting) until the map is dropped.
        readers = {name: open(self._spill / name, "rb") for name in ("term", "doc", "tf")}  # noqa: SIM115
        try:
            for start in range(0, self._postings, self.WINDOW):
                count = min(self.WINDOW, self._postings - start)
                columns = column_of[np.fromfile(readers["term"], dtype=np.int32, count=count)]
                docs = np.fromfile(readers["doc"], dtype=np.int32, count=count)
                tf = np.fromfile(readers["tf"], dtype=np.float32, count=count)
                self._place(columns, docs, tf, heads, idf, norm, data, indices)
        finally:
            for handle in readers.values():
                handle.close()
        vocab = {name: i for i, name in enumerate(sorted(names))}
        if "" not in vocab:
            vocab[""] = len(vocab)
        params = {"k1": k1, "b": b, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
                  "int_dtype": "int32", "num_docs": n_docs, "version": BM25S_FORMAT, "backend": "numpy"}
        scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
        return StoredBM25(scores, vocab, params)

    @staticmethod
    def _place(columns: np.ndarray, docs: np.ndarray, tf: np.ndarray, heads: np.ndarray, idf: np.ndarray,
               norm: np.ndarray, data: np.ndarray, indices: np.ndarray) -> None:
        """Counting-sort one window of postings into their columns; ``heads`` moves on."""
        sorter = np.argsort(columns, kind="stable")  # documents stay ascending inside a column
        columns, docs, tf = columns[sorter], docs[sorter], tf[sorter]
        first = np.searchsorted(columns, columns, side="left")
        positions = heads[columns] + (np.arange(len(columns)) - first)
        heads += np.bincount(columns, minlength=len(heads))
        # bm25s: tf / (k1·(1 − b + b·len/avglen) + tf) in float64, times the float32 idf, stored float32.
        data[positions] = idf[columns] * (tf / (norm[docs] + tf))
        indices[positions] = docs
