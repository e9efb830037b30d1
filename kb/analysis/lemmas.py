"""Japanese lexical analysis for BM25: fugashi + unidic-lite lemmas with their POS.

Lemmas make 支援する, 支援し and 支援 one term; NFKC makes ＤＸ and DX one term.
Particles, auxiliaries and symbols carry no topic and are dropped, as are a few
light verbs (する, ある, なる …) that every sentence of a plan contains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """One fugashi Tagger, created on first use and reused for every text.

    Creating a Tagger loads the dictionary (~50 ms); an index build or a search
    session owns one analyzer instead of paying that per text.
    """

    def __init__(self) -> None:
        self._tagger: fugashi.Tagger | None = None

    @property
    def tagger(self) -> fugashi.Tagger:
        if self._tagger is None:
            import fugashi  # imported lazily: `kb --help` must not load the dictionary

            self._tagger = fugashi.Tagger()
        return self._tagger

    def tokens(self, text: str) -> list[Token]:
        out = []
        for word in self.tagger(normalize(text)):
            feature = word.feature
            pos = getattr(feature, "pos1", None) or "名詞"
            lemma = getattr(feature, "lemma", None) or word.surface
            if not lemma or lemma == "*":
                lemma = word.surface
            lemma = lemma.split("-", 1)[0] if "-" in lemma[1:] else lemma  # スポーツ-sport
            out.append(Token(surface=word.surface, lemma=normalize(lemma).lower(), pos=pos))
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
