"""Find KPI records by what a planner asks, with the same query understanding as search.

Two routes, merged by :func:`kpis_for_question`: KPIs whose own name contains a phrase of
the query (:func:`find_kpis`), then the KPIs of the measures that search ranks for the
question, which also finds a KPI that shares no word with
the question (転出 → 社会動態) when an index is at hand.

``kb kpi --query 転出`` used to look for the literal substring in a KPI's name, so
「転出」 found nothing (the plans' indicators say 社会増減 or 転入超過数) and English
found nothing at all. The query goes through :class:`kb.search.expand.QueryExpander`
(glossary translations, synonyms) and both sides are cut into lemmas, so a KPI matches
when its name or section shares a term with the query or its expansions; the best
matches (most query weight covered) come first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kb.analysis.lemmas import JapaneseAnalyzer
from kb.chunk import Chunk
from kb.kpi.extract import Kpi, kpis_for_chunk
from kb.search.expand import QueryExpander, QueryVocabulary

#: How much a match in the KPI's section counts against one in its name.
SECTION_WEIGHT = 0.3


def query_phrases(query: str, expander: QueryExpander, analyzer: JapaneseAnalyzer) -> list[tuple[frozenset[str], float]]:
    """The query's phrases (its own words, glossary translations, synonyms) as lemma sets
    with their weights, plus each of the user's own words alone at half weight."""
    expanded = expander.expand(query)
    phrases: dict[frozenset[str], float] = {}
    for phrase, weight in expanded.phrases().items():
        terms = frozenset(analyzer.terms(phrase))
        if terms:
            phrases[terms] = max(phrases.get(terms, 0.0), weight)
    for term in analyzer.terms(expanded.text):
        key = frozenset({term})
        phrases[key] = max(phrases.get(key, 0.0), 0.5)
    return list(phrases.items())


def find_kpis(
    kpis: Iterable[Kpi], query: str, *, expander: QueryExpander | None = None, analyzer: JapaneseAnalyzer | None = None
) -> list[Kpi]:
    """The KPIs whose name or section contains a whole phrase of the query (or of its
    expansions), best first: 人口流出 must find both 人口 and 流出, not either."""
    analyzer = analyzer or JapaneseAnalyzer()
    phrases = query_phrases(query, expander or QueryExpander(QueryVocabulary.load()), analyzer)
    records = list(kpis)
    names = [set(analyzer.terms(kpi.name)) for kpi in records]
    sections = [set(analyzer.terms(kpi.section)) for kpi in records]
    # A term most KPIs share (人口, 割合) says little about which one is meant: weigh by rarity.
    vocabulary = {t for terms, _ in phrases for t in terms}
    rarity = {t: math.log(1 + len(records) / (1 + sum(t in a or t in b for a, b in zip(names, sections))))
              for t in vocabulary}

    def score(terms: set[str]) -> float:
        return sum(weight * sum(rarity[t] for t in phrase) / len(phrase) for phrase, weight in phrases if phrase <= terms)

    scored: list[tuple[float, int, Kpi]] = []
    for order, kpi in enumerate(records):
        # The KPI's own name decides; its section (the measure it belongs to) only when the
        # name says nothing, and for less: equal names keep the plans' order.
        value = score(names[order]) or SECTION_WEIGHT * score(sections[order] | names[order])
        if value > 0:
            scored.append((value, order, kpi))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [kpi for _, _, kpi in scored]


def kpis_for_question(kpis: Iterable[Kpi], query: str, passages: Iterable[Chunk] = ()) -> list[Kpi]:
    """KPIs named like the question first (:func:`find_kpis`), then the KPIs of the measures
    and goals search ranked for it (``passages``, in that order), each KPI once."""
    records = list(kpis)
    out = find_kpis(records, query)
    seen = {(kpi.doc, kpi.line_start) for kpi in out}
    for chunk in passages:
        for kpi in kpis_for_chunk(chunk, records, inherit=True):
            key = (kpi.doc, kpi.line_start)
            if key not in seen:
                seen.add(key)
                out.append(kpi)
    return out
