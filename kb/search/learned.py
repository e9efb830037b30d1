"""The learned path of the searcher: candidates, features, the ranker's scores, mentions.

Candidates are the union of each signal's top 100 (lemma BM25, Sudachi BM25, e5, and for
English queries the JMdict field). The ranker (kb/rank) scores each from its features; the
hand-set formula's score is one of those features, not the answer. A question that asks for
every mention of a term (すべて, 洗い出し, "every mention") also gets every chunk containing
the term as a candidate, and those chunks rank first: a report writer needs the literal
mentions before the merely related passages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kb.analysis.jmdict import EnglishDictionary, Translation
from kb.analysis.lemmas import JapaneseAnalyzer
from kb.chunk import Chunk
from kb.index.lexical import LexicalIndex
from kb.rank.features import ChunkFacts, QueryFacts, TermPostings, candidate_features, idf
from kb.rank.model import LearnedRanker
from kb.search.expand import ExpandedQuery
from kb.search.floor import meaningful

#: At most this many query terms feed the literal-coverage features (the rarest kept).
MAX_TERMS = 12
#: A JMdict headword counts for the coverage features from this weight on.
COVERAGE_TRANSLATION_WEIGHT = 0.9
#: Words that phrase the request itself (書かれている箇所をすべて集めたい), not its topic.
REQUEST_WORDS = frozenset(
    ["書く", "箇所", "記述", "集める", "全て", "全部", "部分", "触れる", "言及", "計画", "一覧", "洗い出す", "洗い出し", "網羅", "所", "内容", "関連", "関する", "言う", "知る", "見る", "探す", "調べる", "出す", "載る", "挙げる", "拾う", "市", "施策", "取組", "取り組み", "取り組む", "一通り", "漏れ", "無い", "中", "際", "件", "ため", "方", "もの", "事", "こと"]
)
#: A term found in at most this many chunks is "rare": its mentions can be listed in full.
RARE_MENTIONS = 60
#: Added to the score of a chunk that contains the term an all-mentions question names.
MENTION_BONUS = 100.0
_LATIN = re.compile(r"^[a-z]+$")
#: Where the topic of an all-mentions question ends (文化財|について書かれている箇所).
_TOPIC_END = re.compile(r"について|に関する|に関して|に関わる|にまつわる|に触れ|の記述|を含む|が出てくる|に言及|という言葉|の箇所|関連の")
_EN_TOPIC = re.compile(r"\b(?:about|on|regarding|concerning|mentions? of|related to|touching on|that mention)\b")
_TRANSLATED = re.compile(r"translation of '(.+)'")
_BRACKET = re.compile(r"[（(「『【]")
_COMPOUND_POS = frozenset({"名詞", "接尾辞", "接頭辞", "形状詞"})
#: Chunks that contain every word of the topic are checked for the topic itself (its
#: characters in a row) when there are at most this many: records are read only then.
LITERAL_CHECK_MAX = 400


@dataclass(frozen=True)
class Mention:
    """The term an all-mentions question is about and the chunks that contain it."""

    term: str
    chunks: np.ndarray

    @property
    def listed(self) -> bool:
        """Few enough mentions to list them all first (a common word's are not)."""
        return len(self.chunks) <= RARE_MENTIONS


def fold(text: str) -> str:
    """Width-folded, without spaces or line breaks: how a literal mention is compared (NFKC
    already turns the ideographic space into a plain one)."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("\n", "")


class LearnedRanking:
    """Everything the learned path needs besides the searcher's own signals."""

    def __init__(self, ranker: LearnedRanker | None, lexical: LexicalIndex, analyzer: JapaneseAnalyzer,
                 facts: ChunkFacts, sections: tuple[str, ...], section_codes: np.ndarray,
                 dictionary: EnglishDictionary | None = None, texts: Sequence[Chunk] | None = None) -> None:
        self.ranker = ranker
        self.lexical = lexical
        self.analyzer = analyzer
        self.facts = facts
        self.size = len(facts.kind)
        self.dictionary = dictionary if dictionary is not None else EnglishDictionary()
        self.texts = texts  # the chunk records, read only to confirm a topic's literal mentions
        #: The JMdict field is computed only for a ranker that reads it (a few SQLite look-ups a query).
        self.reads_jmdict = ranker is None or any(ranker.uses(f"jmdict_{part}") for part in ("score", "norm", "log_rank"))
        self._sections = sections
        self._section_codes = section_codes
        self._section_terms: dict[int, frozenset[str]] = {}

    # -- the JMdict field ------------------------------------------------------------------
    def known_translations(self, expanded: ExpandedQuery) -> list[tuple[Translation, list[str]]]:
        """The query's JMdict headwords whose every lemma the index knows, with those lemmas."""
        if expanded.language != "en" or not self.dictionary.available:
            return []
        out = []
        for translation in self.dictionary.translate(expanded.text):
            terms = self.analyzer.terms(translation.headword)
            if terms and all(self.lexical.has_term(t) for t in terms):
                out.append((translation, terms))
        return out

    def translations(self, expanded: ExpandedQuery) -> dict[str, float]:
        """Lemma-field term weights of the query's JMdict headwords that the index knows."""
        weights: dict[str, float] = {}
        for translation, terms in self.known_translations(expanded):
            for term in terms:
                weights[term] = max(weights.get(term, 0.0), translation.weight)
        return weights

    def translated_words(self, expanded: ExpandedQuery) -> int:
        """How many distinct English words of the query JMdict turns into words the plans use."""
        return len({word for translation, _ in self.known_translations(expanded) for word in translation.english.split()})

    def jmdict_scores(self, expanded: ExpandedQuery) -> np.ndarray:
        weights = self.translations(expanded)
        return self.lexical.scores(weights) if weights else np.zeros(self.size, dtype=np.float32)

    # -- query terms -------------------------------------------------------------------------
    def query_terms(self, expanded: ExpandedQuery, phrases: Mapping[str, float]) -> tuple[list[TermPostings], float]:
        """The query's content terms with their postings (rarest first, at most MAX_TERMS), and
        the share of them the index knows."""
        if expanded.language == "en":
            texts = [p for p, w in phrases.items() if w >= 1.0]
            texts += [t for t, w in self.translations(expanded).items() if w >= COVERAGE_TRANSLATION_WEIGHT]
        else:
            texts = [expanded.text]
        terms: list[str] = []
        for text in texts:
            for term in self.analyzer.terms(text):
                if meaningful(term) and term not in terms and term not in REQUEST_WORDS and not _LATIN.match(term):
                    terms.append(term)
        if not terms:
            return [], 0.0
        known = [t for t in terms if self.lexical.has_term(t)]
        postings = [TermPostings(t, idf(len(c := self.lexical.chunks_with(t)), self.size), c) for t in known]
        postings.sort(key=lambda p: -p.idf)
        return postings[:MAX_TERMS], len(known) / len(terms)

    def mention_phrase(self, expanded: ExpandedQuery) -> str | None:
        """The topic an all-mentions question names: in Japanese the longest noun compound
        before について/に関する/の記述…; in English the glossary's translation, else the
        JMdict headword of the longest English phrase that has one in the plans."""
        if expanded.language == "en":
            lowered = expanded.text.lower()
            found = list(_EN_TOPIC.finditer(lowered))
            topic = lowered[found[-1].end():] if found else lowered
            primary = [e.term for e in expanded.expansions if e.weight >= 1.0
                       and (m := _TRANSLATED.match(e.reason)) and m.group(1).lower() in topic]
            if primary:
                return primary[0]
            translations = sorted(self.dictionary.translate(topic) if self.dictionary.available else [],
                                  key=lambda t: (-len(t.english.split()), -t.weight))
            for translation in translations:
                terms = self.analyzer.terms(translation.headword)
                if terms and all(self.lexical.has_term(t) for t in terms):
                    return translation.headword
            return None
        topic = _TOPIC_END.split(expanded.text, maxsplit=1)[0]
        runs: list[str] = []
        current = ""
        for token in self.analyzer.tokens(_BRACKET.split(topic, maxsplit=1)[0]):
            if token.pos in _COMPOUND_POS or token.surface == "・":
                current += token.surface
            else:
                runs.append(current)
                current = ""
        runs.append(current)
        runs = [r.strip("・") for r in runs if r.strip("・") and r not in REQUEST_WORDS]
        return max(runs, key=len) if runs else None

    def mention(self, expanded: ExpandedQuery) -> Mention | None:
        """For an all-mentions question, its topic and the chunks that contain every word of it."""
        phrase = self.mention_phrase(expanded)
        terms = self.analyzer.terms(phrase) if phrase else []
        if not phrase or not terms:
            return None
        chunks: np.ndarray | None = None
        for term in terms:
            found = self.lexical.chunks_with(term)
            chunks = found if chunks is None else np.intersect1d(chunks, found)
        if chunks is None or not len(chunks):
            return None
        if len(chunks) <= LITERAL_CHECK_MAX and self.texts is not None:
            needle = fold(phrase)
            chunks = np.array([i for i in chunks if needle in fold(self.texts[int(i)].text)], dtype=np.int64)
            if not len(chunks):
                return None
        return Mention(phrase, chunks)

    def heading_coverage(self, candidates: np.ndarray, terms: list[TermPostings]) -> np.ndarray:
        wanted = {t.term for t in terms}
        if not wanted:
            return np.zeros(len(candidates))
        out = np.zeros(len(candidates))
        for row, item in enumerate(candidates):
            code = int(self._section_codes[item])
            heading = self._section_terms.get(code)
            if heading is None:
                heading = frozenset(self.analyzer.terms(self._sections[code]))
                self._section_terms[code] = heading
            out[row] = len(wanted & heading) / len(wanted)
        return out

    # -- scoring ------------------------------------------------------------------------------
    def features(
        self, expanded: ExpandedQuery, phrases: Mapping[str, float], scores: Mapping[str, np.ndarray],
        rankings: Mapping[str, list[int]], formula: Mapping[int, float], flatness: float,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, Mention | None]:
        """Candidates, their feature rows and (for an all-mentions question) its term; training
        reads the same rows the searcher scores."""
        terms, coverage = self.query_terms(expanded, phrases)
        mention = self.mention(expanded) if expanded.wants_all else None
        pool = set(formula)
        for ranking in rankings.values():
            pool.update(ranking)
        if mention is not None and mention.listed:
            extra = mention.chunks if allowed is None else mention.chunks[allowed[mention.chunks]]
            pool.update(int(i) for i in extra)
        candidates = np.array(sorted(pool), dtype=np.int64)
        # Each signal's value for the candidates only: nothing over the whole index per query.
        values = {name: np.asarray(array)[candidates] for name, array in scores.items()}
        values["formula"] = np.array([formula.get(int(c), -np.inf) for c in candidates], dtype=np.float64)
        ranks = {name: {item: r for r, item in enumerate(ranking, start=1)} for name, ranking in rankings.items()}
        ranks["formula"] = {item: r for r, item in enumerate(sorted(formula, key=lambda i: (-formula[i], i)), start=1)}
        facts = QueryFacts(
            english=expanded.language == "en", terms=len(terms), vocab_coverage=coverage, flatness=flatness,
            wants_kpi=expanded.wants_kpi, wants_measures=expanded.wants_measures, wants_all=expanded.wants_all,
            cities=expanded.cities, expansions=len(expanded.expansions),
        )
        matrix = candidate_features(candidates, values, ranks, terms, self.heading_coverage(candidates, terms),
                                    self.facts, facts, self.size)
        return candidates, matrix, mention

    def score(
        self, expanded: ExpandedQuery, phrases: Mapping[str, float], scores: Mapping[str, np.ndarray],
        rankings: Mapping[str, list[int]], formula: Mapping[int, float], flatness: float,
        allowed: np.ndarray | None,
    ) -> tuple[dict[int, float], Mention | None]:
        """The ranker's score of every candidate (and, for an all-mentions question, its term)."""
        if self.ranker is None:
            raise ValueError("no ranker model to score with")
        candidates, matrix, mention = self.features(expanded, phrases, scores, rankings, formula, flatness, allowed)
        values = self.ranker.score(matrix)
        if mention is not None and mention.listed:
            values = values + MENTION_BONUS * np.isin(candidates, mention.chunks)
        return {int(c): float(v) for c, v in zip(candidates, values)}, mention
