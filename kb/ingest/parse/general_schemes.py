"""The heading shapes the general outline detector knows, and the words that give a heading its kind.

Japanese plans number their headings with a small set of conventional schemes (第N章 →
第N節 → 1 → (1) → ① → ア, plus 基本目標N / 政策N, 施策N / 施策1-1 / 基本事業N, 【…】 and
<…> labels, ■/●/◆ markers and 数値目標/KPI labels). Each :class:`Scheme` says what one of
them looks like on a width-folded line; :func:`candidate` tries them in order. Whether a
candidate *is* a heading (its number continues its series, it is not a chart caption …)
is decided by :mod:`kb.ingest.parse.general`, which sees the whole document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kb.ingest.parse.common import fold_width
from kb.ingest.parse.model import GOAL, KPI, MEASURE, PARAGRAPH

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳㉑㉒㉓㉔㉕㉖㉗㉘㉙㉚㉛㉜㉝㉞㉟㊱㊲㊳㊴㊵㊶㊷㊸㊹㊺㊻㊼㊽㊾㊿"
_KATAKANA = "アイウエオカキクケコサシスセソタチツテト"
_ROMAN = "ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ"
_KANJI = "一二三四五六七八九十"
_CIRCLED_CLASS = "①-⑳㉑-㉟㊱-㊿"
#: The separator of a two-level number (施策１－１, 2-3, 1の2): width-folded hyphens and dashes.
_DASH = "-‐‑–—―ー−の"


@dataclass(frozen=True)
class Scheme:
    """One way plans number or mark a heading.

    ``rank`` is the conventional depth where Japanese official documents agree on one
    (章 above 節 above 1 above (1) above ① above ア); schemes without a rank (markers,
    【】 labels) take their depth from where they first appear. ``leaf`` schemes (KPI
    labels) never become parents: the next heading closes them. ``max_len`` bounds the
    line, since a long line with a marker is a sentence, not a title. ``kind`` is the
    kind the scheme's label word implies (政策N is a goal even without 目標 in it).
    ``marker`` schemes (■, ●, 【】 …) are also how plans caption charts and tables, so
    the detector checks that what follows them is text (see ``general.captions``).
    """

    name: str
    pattern: re.Pattern[str]
    rank: float | None = None
    numbered: bool = True
    leaf: bool = False
    max_len: int = 60
    allow_period: bool = False
    kind: str = ""
    marker: bool = False
    #: Two-level numbers (1-1, 1-2, 2-1): the series continues within the first number
    #: and restarts at 1 when it grows.
    dashed: bool = False


def _scheme(name: str, pattern: str, rank: float | None = None, **options: object) -> Scheme:
    return Scheme(name, re.compile(pattern), rank, **options)  # type: ignore[arg-type]


_END = r"(?:\s|[】\]:：「『]|$)"
GOAL_LABELS = "基本目標|政策目標|重点目標|目標|政策の柱|政策|基本方針|方針|戦略|施策分野|分野|基本的方向"
MEASURE_LABELS = ("施策の方向性|施策の方向|施策の柱|基本施策|主要施策|重点施策|具体的施策|施策|基本事業|主要事業|重点事業|事業"
                  "|取組の方向|取組|取り組み|重点プロジェクト")
#: A label's number: 1, １, ①, Ⅰ or 一 (基本方針Ⅱ, 第三の柱 are as common as 基本目標２).
_LABEL_NUM = rf"\d{{1,2}}|[{_CIRCLED_CLASS}]|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]|[一二三四五六七八九十]{{1,3}}"

#: Candidate heading shapes, tried in order on the width-folded line. ``num`` is the
#: number that must continue the series; schemes without it are markers.
SCHEMES: tuple[Scheme, ...] = (
    _scheme("markdown", r"^(?P<hashes>#{1,6})\s+\S", numbered=False, max_len=120),
    _scheme("chapter", r"^第\s*(?P<num>\d{1,2}|[一二三四五六七八九十]{1,3})\s*[章部編](?:\s|$)", 0),
    _scheme("section", r"^第\s*(?P<num>\d{1,2}|[一二三四五六七八九十]{1,3})\s*節(?:\s|$)", 1),
    _scheme("named", r"^(はじめに|おわりに|序章|終章|参考資料|資料編|用語解説|附属資料)$", 0, numbered=False),
    _scheme("goal-label", rf"^[【\[]?(?P<word>{GOAL_LABELS})\s*(?P<num>{_LABEL_NUM}){_END}", 3.5,
            max_len=90, kind=GOAL),
    _scheme("measure-dashed", rf"^[【\[]?(?P<word>{MEASURE_LABELS}|)\s*(?P<parent>\d{{1,2}})\s*[{_DASH}]\s*(?P<num>\d{{1,2}})"
            rf"{_END}", 4.2, max_len=90, dashed=True),
    _scheme("measure-label", rf"^[【\[]?(?P<word>{MEASURE_LABELS})\s*(?P<num>{_LABEL_NUM}){_END}", 4.5,
            max_len=90, kind=MEASURE),
    _scheme("kpi-label", r"^[■◆●□◇【\[<＜]?\s*(KPI|ＫＰＩ|数値目標|重要業績評価指標|成果指標|施策指標|活動指標|評価指標|目標指標)",
            numbered=False, leaf=True, max_len=30),
    _scheme("roman", r"^(?P<num>[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ])(?:\s|[.．「]|$)", 2, max_len=90),
    _scheme("decimal-dot", r"^(?P<num>\d{1,2})[.．]\s*[^\d\s.．]", 3, max_len=90),
    _scheme("decimal", r"^(?P<num>\d{1,2})\s+(?:\d{4}年)?[^\d\s]", 3, max_len=90),
    _scheme("paren", r"^[(（]\s*(?P<num>\d{1,2})\s*[)）]\s*\S", 4, allow_period=True, max_len=90),
    _scheme("circled", rf"^-?\s*(?P<num>[{_CIRCLED_CLASS}])\s*\S", 5, allow_period=True, max_len=80),
    _scheme("katakana", r"^(?P<num>[アイウエオカキクケコサシスセソタチツテト])[\s.．、]\s*\S", 6),
    _scheme("paren-katakana", r"^[(（](?P<num>[アイウエオカキクケコサシスセソタチツテト])[)）]\s*\S", 7),
    _scheme("bracket", r"^(【[^】]{1,40}】?|\[[^\]]{1,40}\]|[<＜〈《][^>＞〉》]{1,40}[>＞〉》])$", numbered=False,
            max_len=45, marker=True),
    _scheme("square", r"^[■□]\s*\S", numbered=False, max_len=45, marker=True),
    _scheme("diamond", r"^[◆◇]\s*\S", numbered=False, max_len=45, marker=True),
    _scheme("dot", r"^[●]\s*\S", numbered=False, max_len=40, marker=True),
)

BY_NAME = {s.name: s for s in SCHEMES}
#: A word PDF extraction wrote one character a line and that recurs in the plan: the label
#: of a box in a repeated table layout (方/向/性 beside every measure's directions).
VERTICAL = Scheme("vertical", re.compile(""), numbered=False, kind=PARAGRAPH)
#: Measures printed one a page with a two-digit number (施策 01, 02 …) and no label word.
PAGE_MEASURE = Scheme("page-measure", re.compile(""), 4.8, kind=MEASURE)
#: A short line on its own between paragraphs of a page saved from the web (no numbering).
PLAIN = Scheme("plain", re.compile(""), numbered=False)

KPI_WORDS = re.compile(r"KPI|数値目標|重要業績評価指標|成果指標|施策指標|評価指標|活動指標|目標値")
GOAL_WORDS = re.compile(r"目標|目指す姿|将来像")
NOT_GOAL_WORDS = re.compile(r"目標人口|数値目標|目標値|目標年次|目標年度")
#: A heading that lists the goals (「４ …基本目標」, not 「基本目標４」): what it numbers are goals.
GOAL_LIST = re.compile(r"基本目標(?!\s*[0-9０-９①-⑳])")
MEASURE_WORDS = re.compile(r"施策|取組|取り組み|方向性|事業|プロジェクト")
_DIGITS = re.compile(r"\d")


def number_of(token: str) -> int:
    """The value of a heading number in any of the schemes' notations (1, ①, ㉑, ア, Ⅱ, 三)."""
    for alphabet in (_CIRCLED, _KATAKANA, _ROMAN):
        if token in alphabet:
            return alphabet.index(token) + 1
    token = unicodedata.normalize("NFKC", token)
    if token.isascii() and token.isdigit():
        return int(token)
    if token and all(c in _KANJI for c in token):  # 一 … 十九
        if "十" not in token:
            return _KANJI.index(token) + 1
        tens, _, ones = token.partition("十")
        return (_KANJI.index(tens) + 1 if tens else 1) * 10 + (_KANJI.index(ones) + 1 if ones else 0)
    return 0


@dataclass(frozen=True)
class Candidate:
    scheme: Scheme
    number: int
    #: For markdown headings the level the converter wrote (1–6), else 0.
    level: int = 0
    #: The label word of 基本目標N / 施策N: each word numbers its own series.
    word: str = ""
    #: The first number of a two-level number (the 2 of 2-3), else 0.
    parent: int = 0


def candidate(text: str) -> Candidate | None:
    """The heading scheme a width-folded line looks like, or None for text."""
    if not text or "\t" in text:
        return None
    for scheme in SCHEMES:
        if len(text) > scheme.max_len:
            continue
        match = scheme.pattern.match(text)
        if match is None:
            continue
        if (text.endswith("。") and not scheme.allow_period) or "→" in text:
            return None  # a sentence, or a KPI's "baseline → target" line
        if scheme.numbered and len(text) > 30 and re.search(r"\S[：:]", text[:30]):
            return None  # a footnote or glossary entry: "5 ＵＩＪターン：Uターンとは…"
        body = text[match.end():]
        if len(_DIGITS.findall(body)) > max(6, len(body) // 2):
            return None  # a table row or statistics line, not a title
        groups = match.groupdict()
        number = number_of(groups["num"]) if groups.get("num") else 0
        level = len(groups["hashes"]) if groups.get("hashes") else 0
        parent = number_of(groups["parent"]) if groups.get("parent") else 0
        return Candidate(scheme, number, level, groups.get("word") or "", parent)
    return None


def heading_kind(title: str, parent_kind: str | None, numbered: bool, parent_title: str = "",
                 scheme_kind: str = "") -> str:
    """goal / measure / kpi from a heading's words, else from its label or where it sits."""
    folded = fold_width(title)
    if KPI_WORDS.search(folded):
        return KPI
    if scheme_kind:
        return scheme_kind
    if GOAL_WORDS.search(folded) and not NOT_GOAL_WORDS.search(folded):
        return GOAL
    if MEASURE_WORDS.search(folded):
        return MEASURE
    if parent_kind == GOAL and numbered and GOAL_LIST.search(fold_width(parent_title)):
        return GOAL
    if parent_kind == MEASURE or (parent_kind == GOAL and numbered):
        return MEASURE
    if parent_kind == GOAL:
        return GOAL
    return PARAGRAPH
