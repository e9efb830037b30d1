"""English words and phrases → Japanese headwords, from JMdict (``jamdict-data``).

The hand glossary (kb/data/query_terms.toml) covers the municipal terms a planner would
type; people asking in everyday English ("somewhere for kids after school", "a car") use
words it never listed. JMdict (EDRDG, CC BY-SA 4.0) is a maintained English↔Japanese
dictionary shipped offline as an SQLite file inside the ``jamdict-data`` wheel.

The lookup is a *reverse* one: the query's word n-grams are matched against JMdict's
English glosses exactly ("vacant house" → 空き家, "childcare" → 育児, 託児). Only kanji
headwords (or katakana loanwords of entries without kanji) are kept — an entry's kana
reading matches every word that sounds alike. Each headword is weighted by its sense's
position in the entry (the first sense is the usual meaning) and by JMdict's priority
marks; the caller keeps only headwords the index's vocabulary knows, and BM25's IDF does
the rest. The translations become their own lexical field (a ranker feature), never text
pasted into the query: generic words (人々, 利用, 事業) drowned the query when they were.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Longest English phrase looked up as one gloss.
MAX_NGRAM = 3
#: At most this many headwords per matched phrase, best first.
MAX_HEADWORDS = 4
#: Words that carry no topic on their own (a phrase made only of these is not looked up).
STOPWORDS = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "at", "for", "from", "by", "with", "and", "or", "but", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "i", "me", "my", "we", "our", "you", "your", "he", "she", "it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had", "not", "no", "any", "some", "all", "every", "each", "more", "most", "much", "many", "very", "so", "than", "then", "also", "just", "about", "into", "over", "under", "out", "up", "get", "got", "let", "like", "want", "need", "know", "find", "anything", "something", "someone", "anyone", "city", "cities", "town", "plan", "plans", "japan", "japanese", "kurume", "kumamoto", "please", "tell", "show", "help", "thing", "things", "way", "ways", "kind", "sort", "go", "going", "goes", "getting", "gets", "somewhere", "anywhere", "without", "around", "people", "person", "us", "one", "ones", "new", "good", "lot", "lots", "try", "trying"]
)
_WORD = re.compile(r"[a-z][a-z'\-]*")
_KATAKANA = re.compile(r"^[\u30a0-\u30ffー・]+$")


@dataclass(frozen=True)
class Translation:
    """A Japanese headword for an English phrase of the query, with its weight (0–1]."""

    english: str
    headword: str
    weight: float


def database_path() -> Path | None:
    """The JMdict SQLite file of ``jamdict-data``, or None when the package is absent."""
    try:
        import jamdict_data
    except ImportError:
        return None
    path = Path(jamdict_data.__file__).with_name("jamdict.db")
    return path if path.is_file() else None


def english_words(text: str) -> list[str]:
    """Lower-cased words; a plural -s is kept (glosses are singular: both forms are tried)."""
    return _WORD.findall(text.lower())


def phrases(words: list[str]) -> list[str]:
    """Every 1–3 word n-gram that is not made only of stopwords, longest first."""
    out: list[str] = []
    for size in range(min(MAX_NGRAM, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            gram = words[start:start + size]
            if all(w in STOPWORDS for w in gram) or gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                continue
            out.append(" ".join(gram))
    return list(dict.fromkeys(out))


def _singular(phrase: str) -> str | None:
    if phrase.endswith("ies") and len(phrase) > 4:
        return phrase[:-3] + "y"
    if phrase.endswith("s") and not phrase.endswith("ss") and len(phrase) > 3:
        return phrase[:-1]
    return None


class EnglishDictionary:
    """Reverse look-ups in JMdict; one read-only SQLite connection per thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or database_path()
        self._local = threading.local()

    @property
    def available(self) -> bool:
        return self.path is not None

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.con = con
        return con

    def headwords(self, phrase: str) -> list[tuple[str, float]]:
        """Japanese headwords whose gloss is exactly ``phrase`` (or its verb/singular form), best first."""
        if self.path is None:
            return []
        return list(_cached_headwords(self, phrase))

    def _lookup(self, phrase: str) -> tuple[tuple[str, float], ...]:
        forms = [phrase, f"to {phrase}"]
        singular = _singular(phrase)
        if singular:
            forms.append(singular)
        con = self._connection()
        best: dict[str, float] = {}
        for form in forms:
            rows = con.execute(
                "SELECT s.idseq, s.ID FROM SenseGloss g JOIN Sense s ON g.sid = s.ID "
                "WHERE g.text = ? AND g.lang = 'eng'", (form,)).fetchall()
            for idseq, sense_id in rows[:24]:
                order = con.execute("SELECT count(*) FROM Sense WHERE idseq = ? AND ID < ?", (idseq, sense_id)).fetchone()[0]
                kanji = con.execute(
                    "SELECT k.text, EXISTS(SELECT 1 FROM KJP p WHERE p.kid = k.ID) FROM Kanji k WHERE k.idseq = ? "
                    "ORDER BY k.ID LIMIT 2", (idseq,)).fetchall()
                if not kanji:  # a kana-only entry: keep katakana loanwords (イベント), not hiragana words
                    kanji = [(text, 0) for (text,) in con.execute(
                        "SELECT text FROM Kana WHERE idseq = ? ORDER BY ID LIMIT 1", (idseq,)) if _KATAKANA.match(text)]
                for position, (text, common) in enumerate(kanji):
                    weight = (1.0 / (1 + order)) * (1.0 if common else 0.7) * (1.0 if position == 0 else 0.6)
                    weight *= 1.0 if form == phrase or form == f"to {phrase}" else 0.9
                    best[text] = max(best.get(text, 0.0), weight)
        ranked = sorted(best.items(), key=lambda item: -item[1])[:MAX_HEADWORDS]
        return tuple(ranked)

    def translate(self, text: str) -> list[Translation]:
        """Headwords for the phrases of an English text. A word inside a matched longer phrase
        is still looked up alone, at half weight: "after school club" finds 放課後 via "after school"."""
        words = english_words(text)
        out: list[Translation] = []
        covered: set[str] = set()
        for phrase in phrases(words):
            found = self.headwords(phrase)
            if not found:
                continue
            inside = all(w in covered for w in phrase.split())
            for headword, weight in found:
                out.append(Translation(phrase, headword, weight * (0.5 if inside else 1.0)))
            covered.update(phrase.split())
        return out


@lru_cache(maxsize=65536)
def _cached_headwords(dictionary: EnglishDictionary, phrase: str) -> tuple[tuple[str, float], ...]:
    return dictionary._lookup(phrase)
