"""Query understanding: administrative synonyms and an English→Japanese policy glossary.

Both come from the reviewed data file ``kb/data/query_terms.toml`` (versioned, never
tuned on held-out queries). A Japanese query gains the synonyms of the terms it
contains (人口流出 → 転出超過, 社会減 …); an English query is translated phrase by
phrase (young women → 若い女性, 若年女性) so lexical search can match Japanese text.
The translation and the first few synonyms are appended to the text the dense model
sees. The expansion is
returned so users can see how their query was read.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kb.ingest.text import normalize

DATA_FILE = "query_terms.toml"
#: Weight of a term the user typed, a translation, and a synonym or alternate translation.
QUERY_WEIGHT = 1.0
TRANSLATION_WEIGHT = 1.0
ALTERNATE_WEIGHT = 0.6
SYNONYM_WEIGHT = 0.5
#: How many synonyms / alternate translations the dense model also sees. The embedding
#: model places 人口流出 and 社会減 further apart than a planner would; naming a few plan
#: words beside the user's own pulls the query vector toward the plans' wording.
#: Chosen on the tune and dev splits (0, 2, 4, 6, 10 tried; 4 best on both).
DENSE_TERMS = 4

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
#: Articles and possessives never decide what a phrase means ("start their own business" is
#: "start a business"), so glossary keys and queries are matched without them.
_FILLER = frozenset({"a", "an", "the", "their", "own", "his", "her", "its", "our", "your", "my", "some"})


_KATAKANA = re.compile(r"[\u30a0-\u30ff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z0-9]")


def _word_edges(text: str) -> set[int]:
    """Offsets in ``text`` where a word (a fugashi token) starts or ends."""
    from kb.analysis.lemmas import shared_analyzer

    edges = {0, len(text)}
    position = 0
    for surface in shared_analyzer().surfaces(text):
        start = text.find(surface, position)
        if start < 0:
            continue
        position = start + len(surface)
        edges.update((start, position))
    return edges


def find_word(text: str, term: str, edges: set[int] | None = None) -> int:
    """Where ``term`` occurs in ``text`` (-1 if nowhere), not inside a longer katakana or Latin word.

    Japanese has no spaces, so terms match as substrings (子育て in 子育て支援). But a term
    that begins or ends in katakana or Latin letters must begin or end where a word does:
    バス is not in バスケ, while コミュニティ is in コミュニティセンター.
    """
    start = text.find(term)
    while start >= 0:
        end = start + len(term)
        checks = []
        if _KATAKANA.match(term[0]) or _LATIN.match(term[0]):
            checks.append(start)
        if _KATAKANA.match(term[-1]) or _LATIN.match(term[-1]):
            checks.append(end)
        if checks:
            if edges is None:
                edges = _word_edges(text)
            if all(c in edges for c in checks):
                return start
        else:
            return start
        start = text.find(term, start + 1)
    return -1


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _FILLER]


@dataclass(frozen=True)
class SynonymGroup:
    terms: tuple[str, ...]
    expand: bool = True


@dataclass(frozen=True)
class GlossaryEntry:
    en: tuple[str, ...]
    ja: tuple[str, ...]
    #: Words inside this entry's phrases are not translated on their own: "return home"
    #: is a U-turn, and its "home" must not add 住宅.
    whole: bool = False


@dataclass(frozen=True)
class QueryVocabulary:
    version: str
    synonyms: tuple[SynonymGroup, ...]
    glossary: tuple[GlossaryEntry, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> QueryVocabulary:
        if path is None:
            raw = resources.files("kb.data").joinpath(DATA_FILE).read_bytes()
        else:
            raw = Path(path).read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        synonyms = tuple(
            SynonymGroup(tuple(normalize(t) for t in g["terms"]), bool(g.get("expand", True)))
            for g in data.get("synonyms", [])
        )
        glossary = tuple(
            GlossaryEntry(
                tuple(e.lower().strip() for e in g["en"]), tuple(normalize(t) for t in g["ja"]), bool(g.get("whole", False))
            )
            for g in data.get("glossary", [])
        )
        return cls(version=str(data.get("meta", {}).get("version", "0")), synonyms=synonyms, glossary=glossary)


@dataclass(frozen=True)
class Expansion:
    """One term the query gained, with why and how strongly it counts."""

    term: str
    weight: float
    reason: str


@dataclass(frozen=True)
class ExpandedQuery:
    text: str
    language: str
    expansions: tuple[Expansion, ...] = field(default=())
    dense_text: str = ""
    #: Cities the query is about: one (熊本市の出生数…), both (両市, compare…) or none.
    cities: tuple[str, ...] = ()
    #: The query asks for numbers: targets, indicators, KPIs (目標値は？ how many…).
    wants_kpi: bool = False
    #: The query asks what is being done: measures (施策は？ 取組 what measures…).
    wants_measures: bool = False
    #: The query asks for every mention (すべて集めたい, 洗い出し, "all", "every mention").
    wants_all: bool = False

    def phrases(self) -> dict[str, float]:
        """Every phrase to search lexically with its weight (the query itself first)."""
        weights: dict[str, float] = {}
        if self.language != "en":
            weights[self.text] = QUERY_WEIGHT
        for expansion in self.expansions:
            weights[expansion.term] = max(weights.get(expansion.term, 0.0), expansion.weight)
        return weights

    def describe(self) -> str:
        """A one-line account of the interpretation, shown to users."""
        out = self.text
        if self.expansions:
            out += " → " + ", ".join(dict.fromkeys(e.term for e in self.expansions))
        if self.cities:
            out += f" [{' / '.join(self.cities)}]"
        return out


KURUME, KUMAMOTO = "久留米市", "熊本市"
_CITY_MARKERS = {KURUME: ("久留米", "kurume"), KUMAMOTO: ("熊本", "kumamoto")}
_BOTH_MARKERS = ("両市", "両都市", "二つの市", "2つの市", "両方の市", "両自治体", "both cities", "each city",
                 "two cities", "both kurume", "compare", "比較", "比べ")


def detect_cities(text: str) -> tuple[str, ...]:
    """Which of the two cities a query asks about; () when it names neither.

    A query that compares (両市, 比べたい, both cities) asks about both, so results
    should show measures of each city rather than ten of one.
    """
    folded = text.lower()
    named = tuple(city for city, markers in _CITY_MARKERS.items() if any(m in folded for m in markers))
    if any(marker in folded for marker in _BOTH_MARKERS):
        return (KURUME, KUMAMOTO)
    return named


_KPI_MARKERS = ("目標値", "数値目標", "目標は", "kpi", "指標", "基準値", "何人", "何件", "いくつ", "どのくらい",
                "どれくらい", "どれだけ", "何%", "何パーセント", "何割", "いくら", "何か所", "何カ所",
                "target", "indicator", "how many", "how much", "goal value", "benchmark", "what percentage",
                "what level")


#: Words that ask for measures (施策は？ what is being done …), not for statistics or background.
_MEASURE_MARKERS = ("施策", "取組", "取り組", "対策", "方策", "手立て", "どんな事業", "どのような事業", "何をして",
                    "measures", "policies", "policy", "initiatives", "programs", "programmes", "what is being done",
                    "what does", "what is", "how does", "how do", "steps", "actions")


#: Words that ask for every passage on a topic, not the best few (a report writer's question).
_ALL_MARKERS = ("すべて", "全て", "一通り", "ひととおり", "集めたい", "洗い出", "網羅", "全部", "漏れなく", "もれなく",
                "あらゆる", "一覧", "every ", "everything", "all the", "all mentions", "all passages", "gather",
                "collect", "compile", "list all", "each mention", "wherever")


def detect_all_intent(text: str) -> bool:
    folded = text.lower()
    return any(marker in folded for marker in _ALL_MARKERS)


def detect_measure_intent(text: str) -> bool:
    folded = text.lower()
    return any(marker in folded for marker in _MEASURE_MARKERS)


def detect_kpi_intent(text: str) -> bool:
    folded = text.lower()
    return any(marker in folded for marker in _KPI_MARKERS)


def detect_language(text: str) -> str:
    has_japanese = bool(_JAPANESE.search(text))
    has_latin = bool(re.search(r"[A-Za-z]{3,}", text))
    if has_japanese:
        return "ja"
    return "en" if has_latin else "ja"


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class QueryExpander:
    def __init__(
        self,
        vocabulary: QueryVocabulary,
        *,
        synonym_weight: float = SYNONYM_WEIGHT,
        alternate_weight: float = ALTERNATE_WEIGHT,
        dense_terms: int = DENSE_TERMS,
    ) -> None:
        self.vocabulary = vocabulary
        self.dense_terms = dense_terms
        self.synonym_weight = synonym_weight
        self.alternate_weight = alternate_weight
        # A key matches as written first, then with plurals folded: "metropolitan area"
        # (the Kurume wide area) and "metropolitan areas" (Tokyo, Osaka …) are different
        # entries, and folding alone would let whichever came first take both.
        exact: dict[tuple[str, ...], GlossaryEntry] = {}
        folded: dict[tuple[str, ...], GlossaryEntry] = {}
        for entry in vocabulary.glossary:
            for key in entry.en:
                words = tuple(_content_words(key))
                if words:
                    exact.setdefault(words, entry)
                    folded.setdefault(tuple(_singular(w) for w in words), entry)
        self._exact = exact
        self._folded = folded
        self._longest = max((len(k) for k in exact), default=1)

    def _synonyms(self, text: str, seen: set[str], weight: float) -> list[Expansion]:
        """Synonyms of every group term found in ``text`` (longest matches win)."""
        found: list[tuple[int, int, SynonymGroup, str]] = []
        edges: set[int] | None = None
        for group in self.vocabulary.synonyms:
            if not group.expand:
                continue
            for term in group.terms:
                if not term or term not in text:
                    continue
                if edges is None:
                    edges = _word_edges(text)
                start = find_word(text, term, edges)
                if term and start >= 0:
                    found.append((start, start + len(term), group, term))
        found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
        taken: list[tuple[int, int]] = []
        out: list[Expansion] = []
        for start, end, group, term in found:
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            for other in group.terms:
                if other not in seen:
                    seen.add(other)
                    out.append(Expansion(other, weight, f"synonym of {term}"))
        return out

    def _translate(self, text: str) -> list[Expansion]:
        """Translate every glossary phrase in the query, longest first.

        Shorter phrases inside a longer match are translated too: "outflow of young
        women" maps to youth out-migration, and "young women" inside it adds 若い女性.
        An entry marked ``whole`` keeps its words to itself ("return home" adds no 住宅).
        """
        written = _content_words(text)
        words = [_singular(w) for w in written]
        matches: list[tuple[int, int, GlossaryEntry]] = []
        owned: set[int] = set()
        for size in range(min(self._longest, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                entry = self._exact.get(tuple(written[start : start + size])) or self._folded.get(
                    tuple(words[start : start + size])
                )
                if entry and not owned.intersection(range(start, start + size)):
                    matches.append((start, start + size, entry))
            owned.update(i for start, end, entry in matches if entry.whole for i in range(start, end))
        out: list[Expansion] = []
        covered: set[int] = set()
        for start, end, entry in matches:
            phrase = " ".join(words[start:end])
            for position, term in enumerate(entry.ja):
                weight = TRANSLATION_WEIGHT if position == 0 else self.alternate_weight
                out.append(Expansion(term, weight, f"translation of '{phrase}'"))
            covered.update(range(start, end))
        for index, word in enumerate(words):
            if index not in covered and 2 <= len(word) <= 5 and word.upper() in text:
                out.append(Expansion(word.upper(), QUERY_WEIGHT, "kept as written"))
        return out

    def expand(self, query: str) -> ExpandedQuery:
        text = normalize(query)
        language = detect_language(text)
        expansions: list[Expansion] = []
        seen: set[str] = {text}
        if language == "en":
            translations = self._translate(text)
            unique: list[Expansion] = []
            for expansion in translations:
                if expansion.term not in seen:
                    seen.add(expansion.term)
                    unique.append(expansion)
            expansions.extend(unique)
            primary = " ".join(e.term for e in unique if e.weight >= TRANSLATION_WEIGHT)
            expansions.extend(self._synonyms(primary, seen, self.synonym_weight * self.alternate_weight))
            dense_text = f"{text} ({primary})" if primary else text
        else:
            expansions.extend(self._synonyms(text, seen, self.synonym_weight))
            dense_text = text
        extra = [e.term for e in expansions if e.weight < TRANSLATION_WEIGHT][: self.dense_terms]
        if extra:
            dense_text += f" ({'、'.join(extra)})"
        return ExpandedQuery(
            text=text, language=language, expansions=tuple(expansions), dense_text=dense_text,
            cities=detect_cities(text), wants_kpi=detect_kpi_intent(text),
            wants_measures=detect_measure_intent(text), wants_all=detect_all_intent(text),
        )
