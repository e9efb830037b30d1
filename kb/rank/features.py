"""Per-candidate features for the learned ranker: one row per (query, candidate chunk).

The hand-set formula fused three scores with weights chosen on the team's own questions;
the ranker instead sees every score the searcher computes, as they are, plus facts about
the query and the chunk, and learns how to weigh them from thousands of questions. The
features are plain numbers computed from arrays the searcher already has (no chunk record
is read), so the same code serves the 449-chunk corpus and a 10^6-chunk index.

Column order is the model's contract: :data:`FEATURES` is saved with the model and a model
whose names differ is refused (kb/rank/model.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kb.domain import ChunkKind

#: Rank given to a candidate a signal did not retrieve (its lists are 100 long).
ABSENT_RANK = 200
#: The scored signals: lemma BM25, Sudachi BM25, e5 cosine, JMdict translations' BM25,
#: and the hand-set formula of the previous default (a strong prior the trees can correct).
SIGNALS = ("lexical", "sudachi", "dense", "jmdict", "formula")
KINDS = tuple(k.value for k in ChunkKind)

FEATURES: tuple[str, ...] = (
    *(f"{s}_score" for s in SIGNALS),
    *(f"{s}_norm" for s in SIGNALS),
    *(f"{s}_log_rank" for s in SIGNALS),
    "dense_gap",
    "term_coverage",
    "idf_coverage",
    "all_terms",
    "rare_term",
    "heading_coverage",
    *(f"kind_{k}" for k in KINDS),
    "supporting",
    "named_city",
    "log_chars",
    "log_span",
    "q_english",
    "q_terms",
    "q_vocab_coverage",
    "q_flatness",
    "q_wants_kpi",
    "q_wants_measures",
    "q_wants_all",
    "q_cities",
    "q_expansions",
)


@dataclass(frozen=True)
class QueryFacts:
    """What the ranker knows about the query itself (the same for all its candidates)."""

    english: bool
    terms: int
    vocab_coverage: float
    flatness: float
    wants_kpi: bool
    wants_measures: bool
    wants_all: bool
    cities: tuple[str, ...]
    expansions: int


@dataclass(frozen=True)
class TermPostings:
    """A content term of the query, its IDF and the chunks that contain it."""

    term: str
    idf: float
    chunks: np.ndarray


@dataclass(frozen=True)
class ChunkFacts:
    """Per-chunk columns of the index (kind, supporting flag, city, length) as arrays."""

    kind: np.ndarray  # codes into kinds
    kinds: tuple[str, ...]
    supporting: np.ndarray
    city: np.ndarray
    cities: tuple[str, ...]
    chars: np.ndarray
    span: np.ndarray


def idf(document_frequency: int, size: int) -> float:
    return math.log(1.0 + (size - document_frequency + 0.5) / (document_frequency + 0.5))


def _normalised(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.zeros_like(values)
    top = float(finite.max())
    out = np.where(np.isfinite(values), values, 0.0)
    return out / top if top > 0 else out


def candidate_features(
    candidates: np.ndarray,
    values: Mapping[str, np.ndarray],
    ranks: Mapping[str, Mapping[int, int]],
    terms: Sequence[TermPostings],
    heading_coverage: np.ndarray,
    chunks: ChunkFacts,
    query: QueryFacts,
    size: int,
) -> np.ndarray:
    """The feature matrix (candidates × :data:`FEATURES`), float32.

    ``values``: each signal's score of each candidate, in the candidates' order (-inf or 0 where
    it has none; gathered by the caller, so no array over the whole index is touched here);
    ``ranks``: each signal's 1-based rank of the chunks it retrieved; ``heading_coverage``:
    per candidate, the share of the query's terms in its heading path.
    """
    n = len(candidates)
    columns: list[np.ndarray] = []
    raw = {s: np.asarray(values[s], dtype=np.float64) if s in values else np.zeros(n) for s in SIGNALS}
    for s in SIGNALS:
        columns.append(np.where(np.isfinite(raw[s]), raw[s], 0.0))
    for s in SIGNALS:
        columns.append(_normalised(raw[s]))
    for s in SIGNALS:
        signal_ranks = ranks.get(s, {})
        columns.append(np.log1p(np.array([signal_ranks.get(int(c), ABSENT_RANK) for c in candidates], dtype=np.float64)))
    dense = raw["dense"]
    finite = dense[np.isfinite(dense)]
    best = float(finite.max()) if len(finite) else 0.0
    columns.append(np.asarray(np.where(np.isfinite(dense), best - dense, 1.0), dtype=np.float64))

    present = np.zeros((len(terms), n), dtype=bool)
    for row, term in enumerate(terms):
        present[row] = np.isin(candidates, term.chunks)
    weights = np.array([t.idf for t in terms], dtype=np.float64)
    if len(terms):
        columns.append(np.asarray(present.mean(axis=0), dtype=np.float64))
        weighted = (weights[:, None] * present).sum(axis=0) / max(float(weights.sum()), 1e-9)
        columns.append(np.asarray(weighted, dtype=np.float64))
        columns.append(np.asarray(present.all(axis=0), dtype=np.float64))
        rarest = int(np.argmax(weights))
        rare = len(terms[rarest].chunks) <= max(30, size // 50)
        columns.append(present[rarest].astype(np.float64) if rare else np.zeros(n))
    else:
        columns.extend(np.zeros(n) for _ in range(4))
    columns.append(np.asarray(heading_coverage, dtype=np.float64))

    kind_names = np.array(chunks.kinds, dtype=object)[chunks.kind[candidates]] if len(chunks.kinds) else np.array([])
    for k in KINDS:
        columns.append((kind_names == k).astype(np.float64) if n else np.zeros(0))
    columns.append(chunks.supporting[candidates].astype(np.float64))
    city_names = np.array(chunks.cities, dtype=object)[chunks.city[candidates]] if n else np.array([])
    columns.append(np.isin(city_names, list(query.cities)).astype(np.float64) if query.cities else np.zeros(n))
    columns.append(np.log1p(chunks.chars[candidates].astype(np.float64)))
    columns.append(np.log1p(chunks.span[candidates].astype(np.float64)))
    facts = (float(query.english), float(query.terms), query.vocab_coverage, query.flatness, float(query.wants_kpi),
             float(query.wants_measures), float(query.wants_all), float(len(query.cities)), float(query.expansions))
    columns.extend(np.full(n, value) for value in facts)
    matrix = np.stack(columns, axis=1).astype(np.float32) if n else np.zeros((0, len(FEATURES)), dtype=np.float32)
    assert matrix.shape[1] == len(FEATURES), (matrix.shape, len(FEATURES))
    return matrix
