"""Search: expand the query, rank lexically and densely, fuse, diversify, return hits.

The CLI, the app, ``kb compare`` and the evaluation all call :meth:`Searcher.search`;
nothing else ranks chunks.
"""

from __future__ import annotations

import math
import threading
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from kb.analysis.lemmas import JapaneseAnalyzer
from kb.analysis.sudachi import SudachiAnalyzer, weighted_terms
from kb.domain import LEXICAL_SIGNALS, METHOD_SIGNALS, ChunkKind, Fusion, Method, Signal, resolve_kind
from kb.embed.protocol import QueryEmbedder
from kb.errors import QueryError
from kb.index.dense import DenseIndexSpec, FaissIndex, search_dense
from kb.index.storage import LoadedIndex
from kb.ingest.corpus import CITY_CHOICES, resolve_city
from kb.ingest.names import resolve_name, unknown_name_message
from kb.rank.features import ChunkFacts
from kb.rank.model import FORMULA, LearnedRanker
from kb.search.expand import ExpandedQuery, QueryExpander, QueryVocabulary
from kb.search.floor import clear_match
from kb.search.fusion import flatness, reciprocal_rank_fusion, weighted_sum
from kb.search.learned import LearnedRanking, Mention
from kb.search.results import (  # re-exported: callers import these from here
    MAX_HIT_SPAN,
    Filters,
    Hit,
    SearchResult,
    balance_cities,
    diversify,
    same_measure,
)
from kb.search.topk import top_ids

__all__ = ["MAX_HIT_SPAN", "METHODS", "Filters", "Hit", "SearchConfig", "SearchResult", "Searcher", "balance_cities",
           "same_measure", "validate_query"]

METHODS = tuple(Method)
MAX_QUERY_CHARS = 1000
#: Up to this many chunks FAISS ranks them all (the real corpus has ~450).
SEARCH_WHOLE_MAX = 5000
#: A filter admitting at most this many chunks of a large index is ranked exactly.
EXACT_FILTERED_MAX = 4096
#: Flatness compares the best lexical score with the one this far down.
FLATNESS_DEPTH = 10
#: English words JMdict must translate into plan words for a question to pass the floor on them alone.
JMDICT_FLOOR_WORDS = 3
#: From this many chunks on the signals of one query are computed concurrently.
PARALLEL_SIGNALS_MIN = 50_000


@dataclass(frozen=True)
class SearchConfig:
    method: Method = Method.HYBRID
    fusion: Fusion = Fusion.SUM
    lexical_weight: float = 1.0
    #: The dense weight for a query of typical lexical flatness (see ``flatness_gain``).
    dense_weight: float = 0.6
    #: The Sudachi field counts below the lemma field (0 leaves it out) ...
    sudachi_weight: float = 0.2
    #: ... and more for English queries, where it reads the glossary's translations: its
    #: normalised forms and synonym groups catch plan wordings the glossary did not list.
    sudachi_en_factor: float = 1.65
    #: A synonym-group token counts this much of the word it stands for.
    sudachi_group_weight: float = 0.5
    #: The second encoder (0 leaves it out, and its model is not loaded). It did not pay on
    #: the tuning splits (docs/retrieval-experiments.md), so it is off by default.
    use_weight: float = 0.0
    #: Query-adaptive fusion: the dense weights are multiplied by
    #: exp(flatness_gain × (flatness − flatness_pivot)), where flatness is the 10th-best
    #: BM25 score over the best (kb.search.fusion.flatness). When the lexical scores are flat
    #: the query's words are common or absent in the plans and the encoders decide; when one
    #: passage stands out lexically, BM25 leads.
    flatness_gain: float = 3.0
    flatness_pivot: float = 0.45
    #: Number questions (目標値は？ how many …): the dense weights are multiplied by this,
    #: because the encoders place a KPI row near its measure better than BM25 does.
    kpi_dense_factor: float = 1.8
    #: Questions that ask for measures (施策は？ what measures …): a measure's score is
    #: multiplied by this (chosen on tune + dev: docs/retrieval-experiments.md).
    measure_boost: float = 1.2
    rrf_k: int = 60
    candidates: int = 100
    per_section: int = 2
    per_doc: int = 6
    merge_adjacent: bool = True
    #: Pieces at most this many lines apart merge (blank lines separate them in the text).
    merge_gap: int = 4
    expand: bool = True
    #: Score multiplier for supporting material (appendices, footnotes, glossaries):
    #: users look for measures, and these restate or define them.
    supporting_prior: float = 0.7
    #: Score multiplier for the city a query names (熊本市の…): a preference, not a filter.
    city_boost: float = 1.0
    #: With a query about both cities, at least this share of the top k comes from each.
    city_quota: float = 0.3
    #: Score multiplier for KPI tables when the query asks for numbers.
    kpi_boost: float = 1.6
    #: Score multiplier for narrative/statistics paragraphs (not a goal, measure or KPI).
    paragraph_prior: float = 0.85


def validate_query(query: str) -> str:
    """The query, cleaned, or a :class:`QueryError` saying what is wrong with it."""
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError("the query is not valid Unicode text (broken surrogate characters)") from None
    cleaned = query.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise QueryError("the query contains control characters; type plain text")
    cleaned = cleaned.strip()
    if not cleaned:
        raise QueryError("the query is empty; type a question or keywords")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is too long ({len(cleaned)} characters; the limit is {MAX_QUERY_CHARS})")
    if not any(c.isalnum() for c in cleaned):
        raise QueryError("the query has no words to search for")
    return cleaned


class Searcher:
    """Everything a search needs, loaded once: index, analyzer, expander, embedder."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: QueryEmbedder | None = None,  # None: lexical search only
        *,
        analyzer: JapaneseAnalyzer | None = None,
        expander: QueryExpander | None = None,
        config: SearchConfig | None = None,
        use_embedder: QueryEmbedder | None = None,  # the second encoder (kb.embed.use), if any
        ranker: LearnedRanker | None = None,  # the learned ranker (kb.rank); None: the hand-set formula
        rank_features: bool = False,  # compute the ranker's features without a model (training)
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.use_embedder = use_embedder
        self.analyzer = analyzer or JapaneseAnalyzer()
        self.sudachi = SudachiAnalyzer()
        self.expander = expander or QueryExpander(QueryVocabulary.load())
        self.config = config or SearchConfig()
        self.chunks = index.chunks
        # Filters and priors read these columns; records are read only for the ranked candidates.
        self.columns = index.chunks.columns
        self._documents = set(self.columns.values("doc"))
        # The two cities and 広域, plus any municipality a `kb add`ed plan brought in.
        self._cities = tuple(CITY_CHOICES) + tuple(sorted(set(self.columns.values("city")) - set(CITY_CHOICES)))
        self._pool: ThreadPoolExecutor | None = None  # made on the first search of a large index
        self.learned = self._learned_ranking(ranker) if ranker is not None or rank_features else None
        self._pool_lock = threading.Lock()

    def _learned_ranking(self, ranker: LearnedRanker | None) -> LearnedRanking:
        columns = self.columns
        facts = ChunkFacts(kind=columns.codes["kind"], kinds=columns.values("kind"), supporting=columns.supporting,
                           city=columns.codes["city"], cities=columns.values("city"), chars=columns.chars,
                           span=columns.span)
        return LearnedRanking(ranker, self.index.lexical, self.analyzer, facts, columns.values("section"),
                              columns.codes["section"], texts=self.chunks)

    def check_filters(self, filters: Filters) -> None:
        if filters.city and resolve_city(filters.city) not in self._cities:
            raise QueryError(f"unknown city {filters.city!r} (choose from {', '.join(self._cities)})")
        if filters.doc and resolve_name(filters.doc, self._documents) is None:  # x, x.txt: kb.ingest.names
            raise QueryError(unknown_name_message(filters.doc, self._documents))
        kinds = [k.value for k in ChunkKind]
        if filters.kind and resolve_kind(filters.kind) not in kinds:
            raise QueryError(f"unknown kind {filters.kind!r} (choose from {', '.join(kinds)}, or 施策/目標/指標/本文)")

    def lexical_scores(self, expanded: ExpandedQuery) -> np.ndarray:
        weights: dict[str, float] = {}
        for phrase, weight in self._lexical_phrases(expanded).items():
            for term in self.analyzer.terms(phrase):
                weights[term] = max(weights.get(term, 0.0), weight)
        return self.index.lexical.scores(weights)

    def _lexical_phrases(self, expanded: ExpandedQuery) -> dict[str, float]:
        phrases = expanded.phrases() if self.config.expand else {expanded.text: 1.0}
        if expanded.language == "en" and not self.config.expand:
            phrases = {e.term: e.weight for e in expanded.expansions if e.weight >= 1.0} or {expanded.text: 1.0}
        return phrases

    def sudachi_scores(self, expanded: ExpandedQuery) -> np.ndarray:
        """BM25 over Sudachi normalised forms and synonym groups, for the same phrases as the lemma field."""
        field = self.index.sudachi
        if field is None:
            return np.zeros(len(self.chunks), dtype=np.float32)
        phrases = self._lexical_phrases(expanded).items()
        return field.scores(weighted_terms(self.sudachi, phrases, self.config.sudachi_group_weight))

    def query_vector(self, expanded: ExpandedQuery) -> np.ndarray:
        if self.embedder is None:
            raise QueryError("dense search needs the embedding model; it is not loaded")
        return self.embedder.encode_query(expanded.dense_text if self.config.expand else expanded.text)

    def dense_scores(
        self, expanded: ExpandedQuery, vector: np.ndarray | None = None, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """Cosine of every chunk that FAISS returns (-inf for the rest)."""
        if vector is None:
            vector = self.query_vector(expanded)
        return self._faiss_scores(self.index.dense, self.index.manifest.dense_index, vector, allowed,
                                  self.index.vectors)

    def use_scores(self, expanded: ExpandedQuery, allowed: np.ndarray | None = None) -> np.ndarray:
        """Cosine under the second encoder (USE), on the same text the e5 query sees."""
        if self.use_embedder is None or self.index.use_dense is None or not self.index.manifest.use:
            raise QueryError("this index has no second-encoder vectors; rebuild with `kb build --second-encoder`")
        vector = self.use_embedder.encode_query(expanded.dense_text if self.config.expand else expanded.text)
        spec = DenseIndexSpec(**self.index.manifest.use["dense_index"])
        return self._faiss_scores(self.index.use_dense, spec, vector, allowed)

    def _faiss_scores(
        self, dense: FaissIndex, spec: DenseIndexSpec, vector: np.ndarray, allowed: np.ndarray | None,
        vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        """A small index is searched whole. A large one returns 20× the candidates, from
        inside the filter when there is one (a FAISS ID selector), and a filter that admits
        only a few thousand chunks is ranked exactly from their stored vectors."""
        count = len(self.chunks)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        out = np.full(count, -np.inf, dtype=np.float32)
        if count <= SEARCH_WHOLE_MAX:
            scores, ids = dense.search(query, count)
        else:
            admitted = np.flatnonzero(allowed) if allowed is not None else None
            if admitted is not None and vectors is not None and len(admitted) <= EXACT_FILTERED_MAX:
                out[admitted] = np.asarray(vectors[admitted], dtype=np.float32) @ query[0]
                return out
            limit = min(count, self.config.candidates * 20)
            scores, ids = search_dense(dense, spec, query, limit, allowed)
        valid = ids[0] >= 0
        out[ids[0][valid]] = scores[0][valid]
        return out

    def signals(self, method: Method) -> tuple[Signal, ...]:
        """The signals a method uses that this searcher can compute (index fields, loaded encoders)."""
        wanted = METHOD_SIGNALS[method]
        available = {Signal.LEXICAL, Signal.DENSE}  # dense without a model says so (query_vector)
        if self.index.sudachi is not None and self.config.sudachi_weight > 0:
            available.add(Signal.SUDACHI)
        if self.use_embedder is not None and self.index.use_dense is not None and self.config.use_weight > 0:
            available.add(Signal.USE)
        return tuple(s for s in wanted if s in available)

    def signal_scores(self, signal: Signal, expanded: ExpandedQuery, allowed: np.ndarray | None = None) -> np.ndarray:
        """One signal's score for every chunk (0 or -inf where it has none); the dense ones
        search inside ``allowed`` (a filter's mask; None: every chunk) where the index is large."""
        if signal == Signal.LEXICAL:
            return self.lexical_scores(expanded)
        if signal == Signal.SUDACHI:
            return self.sudachi_scores(expanded)
        if signal == Signal.DENSE:
            return self.dense_scores(expanded, allowed=allowed)
        return self.use_scores(expanded, allowed)

    def _timed_signal(
        self, signal: Signal, expanded: ExpandedQuery, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        values = self.signal_scores(signal, expanded, allowed)
        return values, time.perf_counter() - start

    def _all_signal_scores(
        self, wanted: Sequence[Signal], expanded: ExpandedQuery, allowed: np.ndarray | None
    ) -> dict[Signal, tuple[np.ndarray, float]]:
        """Every wanted signal's scores and seconds. A large index computes them at once on
        a small thread pool: the BM25 loop (numba, nogil), ONNX and FAISS all release the
        GIL, so at 10^6 chunks the two BM25 fields are scored while the query is embedded
        and searched. A small index (the real corpus) scores one after the other: threads
        would cost more than the ~2 ms they could overlap. The scores are the same either way."""
        if len(wanted) < 2 or len(self.chunks) < PARALLEL_SIGNALS_MIN:
            return {signal: self._timed_signal(signal, expanded, allowed) for signal in wanted}
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=len(Signal), thread_name_prefix="kb-signal")
            pool = self._pool
        futures = {signal: pool.submit(self._timed_signal, signal, expanded, allowed) for signal in wanted}
        return {signal: future.result() for signal, future in futures.items()}

    def allowed(self, filters: Filters) -> np.ndarray:
        """Boolean mask of the chunks a filter admits, from precomputed columns (no per-chunk Python)."""
        columns = self.columns
        mask = np.ones(len(self.chunks), dtype=bool)
        if filters.city:
            mask &= columns.equals("city", filters.city) | columns.equals("area", filters.city)
        if filters.doc:
            mask &= columns.equals("doc", resolve_name(filters.doc, self._documents) or filters.doc)
        if filters.kind:
            mask &= columns.equals("kind", filters.kind)
        if filters.goal:
            mask &= columns.contains("goal", filters.goal) | columns.contains("section", filters.goal)
        return mask

    def _ranking(self, scores: np.ndarray, allowed: np.ndarray | None, *, positive: bool) -> list[int]:
        """The top candidates by score (ties by position), via argpartition: O(N), not O(N log N)."""
        ids = top_ids(scores, self.config.candidates, allowed=allowed, require="positive" if positive else "finite")
        return [int(i) for i in ids]

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: Filters | None = None,
        method: str | None = None,
        signals: Sequence[str] | None = None,
    ) -> SearchResult:
        """The top-k hits. ``signals`` (evaluation only) ranks with exactly these signals
        instead of the method's, e.g. ``("sudachi",)`` for the Sudachi field alone."""
        query = validate_query(query)
        filters = filters or Filters()
        if filters.city or filters.kind:
            filters = replace(filters, city=resolve_city(filters.city), kind=resolve_kind(filters.kind))
        self.check_filters(filters)
        try:
            method = Method(method or self.config.method)
        except ValueError:
            raise QueryError(f"unknown method {method!r} (choose from {', '.join(METHODS)})") from None
        if k < 1:
            raise QueryError("k must be at least 1")
        timings: dict[str, float] = {}
        tick = time.perf_counter

        start = tick()
        expanded = self.expander.expand(query)
        timings["expand"] = tick() - start
        mask = self.allowed(filters)
        allowed = None if mask.all() else mask  # None: the query is not filtered
        wanted = self.signals(method) if signals is None else tuple(Signal(s) for s in signals)
        scores: dict[Signal, np.ndarray] = {}
        for signal, (values, seconds) in self._all_signal_scores(wanted, expanded, allowed).items():
            scores[signal] = values
            timings[signal.value] = seconds

        start = tick()
        learned = (self.learned is not None and self.learned.ranker is not None and signals is None
                   and method == Method.HYBRID)
        hits, mention = self.rank(expanded, scores, allowed, filters, k, learned=learned)
        no_clear_match = not self.clear_match(expanded, scores)
        timings["fusion"] = tick() - start
        mentions = {mention.term: int(len(mention.chunks) if allowed is None else allowed[mention.chunks].sum())} \
            if mention is not None else {}
        ranker = FORMULA if method == Method.HYBRID and signals is None else ""
        if learned and self.learned is not None and self.learned.ranker is not None:
            ranker = self.learned.ranker.id
        return SearchResult(query=query, expanded=expanded, method=method, hits=hits, timings=timings,
                            no_clear_match=no_clear_match, mentions=mentions, ranker=ranker)

    def rank(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], allowed: np.ndarray | None, filters: Filters,
        k: int, *, learned: bool = False,
    ) -> tuple[list[Hit], Mention | None]:
        """Fuse the signals' scores, apply the priors, diversify: the top-k hits (among the
        chunks ``allowed`` admits; None: all of them). ``learned``: the ranker orders the
        candidates, with the formula's score as one of its features."""
        fused, rankings, lexical_top = self.formula(expanded, scores, allowed, filters)
        mention = None
        if learned and self.learned is not None:
            fused, mention = self.learned_scores(expanded, scores, allowed, rankings, fused, lexical_top)
        ordered = sorted(fused, key=lambda i: (-fused[i], i))
        positions = {m: {item: r for r, item in enumerate(ranking, start=1)} for m, ranking in rankings.items()}
        balance = len(expanded.cities) == 2 and self.config.city_quota > 0 and not filters.city
        hits = diversify(self.chunks, ordered, fused, positions, 3 * k if balance else k, self.config)
        if balance:
            hits = balance_cities(hits, k, expanded.cities, max(1, int(k * self.config.city_quota)))
        return hits, mention

    def formula(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], allowed: np.ndarray | None, filters: Filters,
    ) -> tuple[dict[int, float], dict[str, list[int]], list[int] | None]:
        """The hand-set formula: each signal's top candidates fused and multiplied by the priors;
        also the rankings and (unfiltered) the lexical top."""
        rankings: dict[str, list[int]] = {}
        raw: dict[str, dict[int, float]] = {}
        for signal, values in scores.items():
            rankings[signal] = self._ranking(values, allowed, positive=signal in LEXICAL_SIGNALS)
            raw[signal] = {i: float(values[i]) for i in rankings[signal]}
        # Unfiltered, the lexical ranking's first ten are the ten best scores the fusion weight needs.
        lexical_top = rankings.get(Signal.LEXICAL) if allowed is None else None
        fused = self.fuse(expanded, scores, raw, rankings, lexical_top)
        for item, value in fused.items():
            factor = self._prior(item, expanded, filters)
            fused[item] = value * factor if value >= 0 else value / factor
        return fused, rankings, lexical_top

    def candidate_features(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The learned ranker's candidates for a query (unfiltered) and their feature rows:
        exactly what a search scores (training reads these)."""
        if self.learned is None:
            raise QueryError("no learned ranker is loaded")
        expanded = self.expander.expand(validate_query(query))
        wanted = self.signals(Method.HYBRID)
        scores = {signal: values for signal, (values, _) in self._all_signal_scores(wanted, expanded, None).items()}
        formula, rankings, lexical_top = self.formula(expanded, scores, None, Filters())
        phrases, named, ranked, flat = self.learned_inputs(expanded, scores, None, rankings, lexical_top)
        candidates, matrix, _ = self.learned.features(expanded, phrases, named, ranked, formula, flat, None)
        return candidates, matrix

    def learned_inputs(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], allowed: np.ndarray | None,
        rankings: dict[str, list[int]], lexical_top: Sequence[int] | None,
    ) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, list[int]], float]:
        """What the ranker reads besides the formula: phrases, every signal's scores (the
        JMdict field added), their rankings and the lexical flatness."""
        assert self.learned is not None
        phrases = self._lexical_phrases(expanded)
        named = {str(signal): values for signal, values in scores.items()}
        ranked = dict(rankings)
        if expanded.language == "en" and self.learned.reads_jmdict:
            named["jmdict"] = self.learned.jmdict_scores(expanded)
            ranked["jmdict"] = self._ranking(named["jmdict"], allowed, positive=True)
        return phrases, named, ranked, self._flatness(scores, lexical_top)

    def learned_scores(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], allowed: np.ndarray | None,
        rankings: dict[str, list[int]], formula: dict[int, float], lexical_top: Sequence[int] | None,
    ) -> tuple[dict[int, float], Mention | None]:
        assert self.learned is not None
        phrases, named, ranked, flat = self.learned_inputs(expanded, scores, allowed, rankings, lexical_top)
        return self.learned.score(expanded, phrases, named, ranked, formula, flat, allowed)

    def fuse(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], raw: dict[str, dict[int, float]],
        rankings: dict[str, list[int]], lexical_top: Sequence[int] | None = None,
    ) -> dict[int, float]:
        """One score per candidate: a lone signal's own score, else the weighted fusion."""
        if len(raw) == 1:
            return dict(next(iter(raw.values())))
        weights = self.weights(expanded, scores, lexical_top)
        if self.config.fusion == Fusion.RRF:
            return reciprocal_rank_fusion(rankings, weights, self.config.rrf_k)
        return weighted_sum(raw, weights)

    def weights(
        self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray], lexical_top: Sequence[int] | None = None
    ) -> dict[str, float]:
        """Each signal's fusion weight for this query: by language, by how flat the lexical
        scores are, and by whether it asks for numbers (all chosen on tune + dev + blind).
        ``lexical_top``: the best lexical ids over all chunks, best first, if already ranked."""
        config = self.config
        flat = self._flatness(scores, lexical_top)
        dense = math.exp(config.flatness_gain * (flat - config.flatness_pivot))
        if expanded.wants_kpi:
            dense *= config.kpi_dense_factor
        sudachi = config.sudachi_weight * (config.sudachi_en_factor if expanded.language == "en" else 1.0)
        return {Signal.LEXICAL: config.lexical_weight, Signal.SUDACHI: sudachi,
                Signal.DENSE: config.dense_weight * dense, Signal.USE: config.use_weight * dense}

    def _flatness(self, scores: dict[Signal, np.ndarray], lexical_top: Sequence[int] | None) -> float:
        """The 10th-best lemma BM25 score over the best (the pivot without a lexical signal)."""
        lexical = scores.get(Signal.LEXICAL)
        if lexical is None:
            return self.config.flatness_pivot
        if lexical_top is not None and len(lexical_top) >= FLATNESS_DEPTH:
            best = float(lexical[lexical_top[0]])
            return float(lexical[lexical_top[FLATNESS_DEPTH - 1]]) / best if best > 0 else 1.0
        return flatness(lexical, FLATNESS_DEPTH)

    def clear_match(self, expanded: ExpandedQuery, scores: dict[Signal, np.ndarray]) -> bool:
        """Whether the query shares a real word with the plans (see :mod:`kb.search.floor`). An
        English question none of whose phrases the glossary knows still matches when JMdict
        turns several of its words (:data:`JMDICT_FLOOR_WORDS`) into words the plans use: one or
        two (``SELECT * FROM users`` → 利用者) are what any string gets. The ranker's scores
        cannot draw this line: nonsense scores as high as the hardest real questions."""
        if clear_match(self._lexical_phrases(expanded), self.analyzer, self.index.lexical):
            return True
        return self.learned is not None and self.learned.translated_words(expanded) >= JMDICT_FLOOR_WORDS

    def _prior(self, item: int, expanded: ExpandedQuery, filters: Filters) -> float:
        """Domain preferences as score multipliers, each chosen on the tune split."""
        columns = self.columns
        kind = columns.value("kind", item)
        factor = 1.0
        if columns.supporting[item]:
            factor *= self.config.supporting_prior
        if len(expanded.cities) == 1 and not filters.city and columns.value("city", item) == expanded.cities[0]:
            factor *= self.config.city_boost
        if expanded.wants_kpi and kind == ChunkKind.KPI:
            factor *= self.config.kpi_boost
        if kind == ChunkKind.PARAGRAPH:
            factor *= self.config.paragraph_prior
        if expanded.wants_measures and kind == ChunkKind.MEASURE:
            factor *= self.config.measure_boost
        return factor
