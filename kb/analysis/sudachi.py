"""A second Japanese analyser from maintained data: Sudachi normalised forms and synonym groups.

The lemma field (:mod:`kb.analysis.lemmas`) matches what a user types against what a
plan writes only when both use the same word, or when the hand-written vocabulary in
``kb/data/query_terms.toml`` links them. SudachiDict ships, offline, two things that do
part of that job from a maintained dictionary instead of our own lists:

* ``normalized_form()`` folds orthographic variants (こども / 子ども → 子供, 引越し → 引っ越し);
* ``synonym_group_ids()`` puts 創業 / 起業 / 開業, 子育て / 育児 and 移住 / 転居 / 引っ越し in one group.

A text becomes its content words' normalised forms plus one ``#sN`` token per synonym
group, so a query that says 起業 meets a plan that says 創業 through ``#s21338``. Group
tokens are only emitted where they are safe:

* a word that belongs to several groups is ambiguous (シティ is both 都市 and Citibank,
  センター both 中心 and a facility) and gets none;
* numbers get none (一 / ワン / 1);
* a handful of groups whose members are homographs the dictionary does not mark
  (作り ↔ 刺し身, 概ね ↔ 概要) are listed in :data:`NOISY_GROUPS`;
* at index build (:func:`prune_groups`), groups that occur in only one chunk are dropped (a
  rare group token has a high IDF and would let one stray word decide a ranking), and so are
  groups with a single normalised form in the dictionary (they add nothing to that form).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kb.analysis.pieces import pieces
from kb.ingest.text import normalize

#: Recorded in the index manifest (with the dictionary's version): bump it whenever
#: :meth:`SudachiAnalyzer.terms` changes what it returns.
SUDACHI_VERSION = "1"
DICTIONARY = "core"
#: Split mode C keeps compounds the dictionary knows (居場所, 子育て) whole, as a reader does.
SPLIT_MODE = "C"
GROUP_PREFIX = "#s"
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "代名詞", "接頭辞", "副詞"})
#: Light verbs and formal nouns in Sudachi's normalised spelling (する → 為る, こと → 事).
STOP_FORMS = frozenset(
    {"為る", "する", "有る", "ある", "居る", "いる", "成る", "なる", "出来る", "できる", "れる", "られる",
     "様", "よう", "事", "こと", "物", "もの", "為", "ため", "等", "など", "図る", "行う", "言う", "いう",
     "其の", "此の", "其れ", "此れ", "これ", "それ", "の", "方", "的", "おる", "居", "所", "とこ"}
)
#: Groups whose members are unrelated homographs in these plans (checked against the corpus).
NOISY_GROUPS = frozenset({13405, 3, 5846})
#: A group token must occur in at least this many chunks to be indexed.
MIN_GROUP_DF = 2


def group_token(group: int) -> str:
    return f"{GROUP_PREFIX}{group}"


def is_group_token(term: str) -> bool:
    return term.startswith(GROUP_PREFIX)


@dataclass(frozen=True)
class SudachiToken:
    surface: str
    form: str
    pos: tuple[str, ...]
    groups: tuple[int, ...]


def dictionary_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"sudachipy {version('sudachipy')}, sudachidict-{DICTIONARY} {version(f'sudachidict-{DICTIONARY}')}"
    except PackageNotFoundError:
        return "unknown"


class SudachiAnalyzer:
    """One Sudachi dictionary and tokenizer, created on first use and shared under a lock.

    A sudachipy tokenizer must not be used by two threads at once (the app searches on
    several); tokenising a query takes ~1 ms, so threads take turns (see
    :class:`kb.analysis.lemmas.JapaneseAnalyzer` for why not one per thread).
    """

    def __init__(self, *, groups: bool = True) -> None:
        self.groups = groups
        self._tokenizer: Any = None
        self._dictionary: Any = None
        self._lock = threading.RLock()

    @property
    def dictionary(self) -> Any:  # sudachipy.Dictionary (a Rust extension without stubs)
        with self._lock:
            if self._dictionary is None:
                from sudachipy import Dictionary  # lazily: the dictionary is 190 MB memory-mapped

                self._dictionary = Dictionary(dict=DICTIONARY)
            return self._dictionary

    @property
    def tokenizer(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = self.dictionary.tokenizer(mode=SPLIT_MODE)
            return self._tokenizer

    def tokens(self, text: str) -> list[SudachiToken]:
        text = normalize(text)
        if not text:
            return []
        with self._lock:  # morphemes are read before another thread can tokenise
            return [
                SudachiToken(m.surface(), normalize(m.normalized_form()).lower(), tuple(m.part_of_speech()),
                             tuple(m.synonym_group_ids()))
                for piece in pieces(text)
                for m in self.tokenizer.tokenize(piece)
            ]

    def terms(self, text: str) -> list[str]:
        """Normalised forms of the content words, each followed by its safe synonym-group token."""
        out: list[str] = []
        for token in self.tokens(text):
            if token.pos[0] not in CONTENT_POS or token.form in STOP_FORMS or not token.form.strip():
                continue
            out.append(token.form)
            if self.groups and token.pos[1] != "数詞" and len(token.groups) == 1:
                group = token.groups[0]
                if group not in NOISY_GROUPS:
                    out.append(group_token(group))
        return out


@lru_cache(maxsize=1)
def _group_sizes() -> dict[int, int]:
    """Distinct normalised forms per synonym group, read once from the dictionary (~1 s)."""
    from sudachipy import Dictionary

    forms: dict[int, set[str]] = {}
    for morpheme in Dictionary(dict=DICTIONARY).entries():
        for group in morpheme.synonym_group_ids():
            forms.setdefault(group, set()).add(morpheme.normalized_form())
    return {group: len(members) for group, members in forms.items()}


def prune_groups(term_lists: Sequence[Sequence[str]], min_df: int = MIN_GROUP_DF) -> list[list[str]]:
    """The chunks' term lists without the group tokens that cannot help: groups that occur in
    fewer than ``min_df`` chunks, and groups with a single normalised form in the dictionary.

    Only the index is pruned; a query's pruned group token is simply not in the vocabulary.
    """
    df: Counter[str] = Counter()
    for terms in term_lists:
        df.update({t for t in terms if is_group_token(t)})
    keep = kept_groups(df, min_df)
    return [[t for t in terms if not is_group_token(t) or t in keep] for terms in term_lists]


def kept_groups(df: Mapping[str, int], min_df: int = MIN_GROUP_DF) -> set[str]:
    """The group tokens :func:`prune_groups` keeps, from their document frequencies: the rule
    for a build that streams its term lists and cannot hold them all."""
    sizes = _group_sizes()
    return {t for t, n in df.items() if n >= min_df and sizes.get(int(t[len(GROUP_PREFIX):]), 0) >= 2}


def weighted_terms(analyzer: SudachiAnalyzer, phrases: Iterable[tuple[str, float]], group_weight: float) -> dict[str, float]:
    """Query terms with weights: each phrase's forms at its weight, group tokens at ``group_weight`` of it."""
    weights: dict[str, float] = {}
    for phrase, weight in phrases:
        for term in analyzer.terms(phrase):
            value = weight * (group_weight if is_group_token(term) else 1.0)
            weights[term] = max(weights.get(term, 0.0), value)
    return weights
