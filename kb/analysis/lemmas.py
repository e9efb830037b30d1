"""Japanese lexical analysis for BM25: fugashi + unidic-lite lemmas with their POS.

Lemmas make 支援する, 支援し and 支援 one term; NFKC makes ＤＸ and DX one term.
Particles, auxiliaries and symbols carry no topic and are dropped, as are a few
light verbs (する, ある, なる …) that every sentence of a plan contains.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kb.analysis.pieces import pieces
from kb.ingest.text import normalize

if TYPE_CHECKING:
    import fugashi

#: Recorded in the index manifest; bump it whenever :meth:`JapaneseAnalyzer.terms` changes
#: what it returns, so an index built with other terms is rebuilt instead of misread.
ANALYZER_VERSION = "2"
#: POS (UniDic pos1) whose words carry topic.
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "代名詞", "接頭辞", "副詞"})
#: Function-like words that pass the POS filter. UniDic lemmas are dictionary forms, often
#: in kanji (する → 為る, できる → 出来る, こと → 事), so both spellings are listed.
STOP_LEMMAS = frozenset(
    {"する", "為る", "ある", "有る", "いる", "居る", "なる", "成る", "れる", "られる", "できる", "出来る",
     "よう", "様", "こと", "事", "もの", "物", "ため", "為", "など", "等", "図る", "行う", "おる",
     "いう", "言う", "その", "其の", "この", "此の", "これ", "此れ", "それ", "其れ", "の", "方", "的"}
)


@dataclass(frozen=True)
class Token:
    surface: str
    lemma: str
    pos: str


class JapaneseAnalyzer:
    """One fugashi Tagger, created on first use and shared by every thread under a lock.

    Creating a Tagger loads the dictionary (~50 ms), so an index build or a search
    session owns one analyzer instead of paying that per text. A Tagger is not
    thread-safe, and the app answers searches on several threads; tagging a query takes
    ~1 ms of a ~30 ms search, so a lock costs little, while a Tagger per thread would
    map the 600 MB unidic dictionary once per thread (each mapping counted again in the
    app's resident memory as its pages are touched).
    """

    def __init__(self) -> None:
        self._tagger: fugashi.Tagger | None = None
        self._lock = threading.Lock()

    @property
    def tagger(self) -> fugashi.Tagger:
        """The Tagger itself (not thread-safe: threads go through the methods below)."""
        if self._tagger is None:
            import fugashi  # imported lazily: `kb --help` must not load the dictionary

            self._tagger = fugashi.Tagger()
        return self._tagger

    def _tag(self, text: str) -> list[tuple[str, str | None, str | None]]:
        """(surface, lemma, pos1) of every word, tagged in pieces MeCab can take.

        Read inside the lock: fugashi's nodes point into the Tagger's lattice, which the
        next call (from any thread) overwrites.
        """
        with self._lock:
            tagger = self.tagger
            return [
                (word.surface, getattr(word.feature, "lemma", None), getattr(word.feature, "pos1", None))
                for piece in pieces(text)
                for word in tagger(piece)
            ]

    def surfaces(self, text: str) -> list[str]:
        """The words of ``text`` as written (no normalisation): where word boundaries are."""
        return [surface for surface, _, _ in self._tag(text)]

    def tokens(self, text: str) -> list[Token]:
        out = []
        for surface, lemma, pos in self._tag(normalize(text)):
            if not lemma or lemma == "*":
                lemma = surface
            lemma = lemma.split("-", 1)[0] if "-" in lemma[1:] else lemma  # スポーツ-sport
            out.append(Token(surface=surface, lemma=normalize(lemma).lower(), pos=pos or "名詞"))
        return out

    def terms(self, text: str) -> list[str]:
        """The lexical terms of ``text``: content-word lemmas and numbers, in order."""
        terms = []
        for token in self.tokens(text):
            if token.pos not in CONTENT_POS:
                continue
            if token.lemma in STOP_LEMMAS or not token.lemma.strip():
                continue
            terms.append(token.lemma)
        return terms


_SHARED: JapaneseAnalyzer | None = None


def shared_analyzer() -> JapaneseAnalyzer:
    """One analyzer per process for code that only needs word boundaries (query expansion)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = JapaneseAnalyzer()
    return _SHARED
