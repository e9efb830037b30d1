"""The general outline detector: headings of any Japanese plan that no layout family claims.

A staff member adding a new plan should get an outline, not a flat list of paragraphs,
before anyone writes a family parser for it. Japanese plans number their headings with a
small set of conventional schemes (第N章 → 第N節 → 1 → (1) → ① → ア, plus 基本目標N,
施策N, 【…】 labels and ■/●/◆ markers), so this module

1. recognises a line as a *candidate* heading of one scheme (:data:`SCHEMES`);
2. accepts it only if its number continues that scheme's series at its level (1, 2, 3 …
   or a restart at 1 under a new parent), which rejects numbered prose, table rows and
   running headers that repeat the same label;
3. infers nesting from the schemes' conventional ranks where they have one (a 第N章
   always closes every (1)) and from the order of first appearance otherwise (a ■
   first seen under (2) nests under (1)-level headings), the way a reader does;
4. names each heading's kind from its words (数値目標/KPI → kpi, 目標 → goal,
   施策/取組/方向性 → measure); a numbered heading under a goal is a measure and one
   under a measure stays a measure, because that is how plans nest them.

The output is the same :class:`ParsedDocument` of :class:`Section` s that the family
parsers build, so chunking, KPIs and the source view work unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from kb.ingest.corpus import Document
from kb.ingest.parse.common import blank_and_toc_noise, fold_vertical, fold_width, is_page_number, vertical_runs
from kb.ingest.parse.model import GOAL, KPI, MEASURE, PAGE_NUMBER, PARAGRAPH, RUNNING_HEADER, ParsedDocument, Section
from kb.ingest.parse.outline import donate_empty_headings, group_blocks, heading_title
from kb.ingest.text import continues, wrap_width

FAMILY = "general"

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_KATAKANA = "アイウエオカキクケコサシスセソタチツテト"
_ROMAN = "ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ"
_KANJI = "一二三四五六七八九十"


@dataclass(frozen=True)
class Scheme:
    """One way plans number or mark a heading.

    ``rank`` is the conventional depth where Japanese official documents agree on one
    (章 above 節 above 1 above (1) above ① above ア); schemes without a rank (markers,
    【】 labels) take their depth from where they first appear. ``leaf`` schemes (KPI
    labels) never become parents: the next heading closes them. ``max_len`` bounds the
    line, since a long line with a marker is a sentence, not a title.
    """

    name: str
    pattern: re.Pattern[str]
    rank: float | None = None
    numbered: bool = True
    leaf: bool = False
    max_len: int = 60
    allow_period: bool = False


def _scheme(name: str, pattern: str, rank: float | None = None, **options: object) -> Scheme:
    return Scheme(name, re.compile(pattern), rank, **options)  # type: ignore[arg-type]


#: Candidate heading shapes, tried in order on the width-folded line. ``num`` is the
#: number that must continue the series; schemes without it are markers.
SCHEMES: tuple[Scheme, ...] = (
    _scheme("markdown", r"^(?P<hashes>#{1,6})\s+\S", numbered=False, max_len=120),
    _scheme("chapter", r"^第\s*(?P<num>\d{1,2}|[一二三四五六七八九十]{1,3})\s*[章部編](?:\s|$)", 0),
    _scheme("section", r"^第\s*(?P<num>\d{1,2}|[一二三四五六七八九十]{1,3})\s*節(?:\s|$)", 1),
    _scheme("named", r"^(はじめに|おわりに|序章|終章|参考資料|資料編|用語解説|附属資料)$", 0, numbered=False),
    _scheme("goal-label", r"^[【\[]?(?P<word>基本目標|目標|政策|基本方針|方針|戦略|施策分野|分野)\s*(?P<num>\d{1,2}|[①-⑳])"
            r"(?:\s|[】\]:：「]|$)", 3.5, max_len=90),
    _scheme("measure-label", r"^[【\[]?(?P<word>施策|取組|重点施策|事業)\s*(?P<num>\d{1,2})(?:\s|[】\]:：「]|$)", 4.5, max_len=90),
    _scheme("kpi-label", r"^[■◆●□◇【\[<＜]?\s*(KPI|ＫＰＩ|数値目標|重要業績評価指標|成果指標|施策指標)", numbered=False,
            leaf=True, max_len=30),
    _scheme("roman", r"^(?P<num>[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ])(?:\s|[.．「]|$)", 2, max_len=90),
    _scheme("decimal-dot", r"^(?P<num>\d{1,2})[.．]\s*[^\d\s.．]", 3, max_len=90),
    _scheme("decimal", r"^(?P<num>\d{1,2})\s+(?:\d{4}年)?[^\d\s]", 3, max_len=90),
    _scheme("paren", r"^[(（]\s*(?P<num>\d{1,2})\s*[)）]\s*\S", 4, allow_period=True, max_len=90),
    _scheme("circled", r"^-?\s*(?P<num>[①-⑳])\s*\S", 5, allow_period=True, max_len=80),
    _scheme("katakana", r"^(?P<num>[アイウエオカキクケコサシスセソタチツテト])[\s.．、]\s*\S", 6),
    _scheme("paren-katakana", r"^[(（](?P<num>[アイウエオカキクケコサシスセソタチツテト])[)）]\s*\S", 7),
    _scheme("bracket", r"^(【[^】]{1,40}】?|\[[^\]]{1,40}\])$", numbered=False, max_len=45),
    _scheme("square", r"^[■□]\s*\S", numbered=False, max_len=45),
    _scheme("diamond", r"^[◆◇]\s*\S", numbered=False, max_len=45),
    _scheme("dot", r"^[●]\s*\S", numbered=False, max_len=40),
)

_BY_NAME = {s.name: s for s in SCHEMES}

KPI_WORDS = re.compile(r"KPI|数値目標|重要業績評価指標|成果指標|施策指標|評価指標|目標値")
GOAL_WORDS = re.compile(r"目標|目指す姿|将来像")
NOT_GOAL_WORDS = re.compile(r"目標人口|数値目標|目標値|目標年次|目標年度")
#: A heading that lists the goals (「４ …基本目標」, not 「基本目標４」): what it numbers are goals.
GOAL_LIST = re.compile(r"基本目標(?!\s*[0-9０-９①-⑳])")
MEASURE_WORDS = re.compile(r"施策|取組|取り組み|方向性|事業|プロジェクト")
#: The furthest (in lines) an empty heading may be from the section that takes its title.
MAX_DONATION_GAP = 20
#: The furthest (in lines) a title's next line may be from its previous one.
TITLE_GAP = 8
_OPEN_CLOSE = (("「", "」"), ("【", "】"), ("（", "）"), ("(", ")"))
_DIGITS = re.compile(r"\d")


def number_of(token: str) -> int:
    """The value of a heading number in any of the schemes' notations (1, ①, ア, Ⅱ, 三)."""
    for alphabet in (_CIRCLED, _KATAKANA, _ROMAN):
        if token in alphabet:
            return alphabet.index(token) + 1
    token = unicodedata.normalize("NFKC", token)
    if token.isascii() and token.isdigit():
        return int(token)
    if all(c in _KANJI for c in token):  # 一 … 十九
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
        return Candidate(scheme, number, level, groups.get("word") or "")
    return None


def heading_kind(title: str, parent_kind: str | None, numbered: bool, parent_title: str = "") -> str:
    """goal / measure / kpi from a heading's words, else from where it sits."""
    folded = fold_width(title)
    if KPI_WORDS.search(folded):
        return KPI
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


@dataclass
class _Open:
    """A heading on the nesting stack."""

    key: str
    rank: float | None
    leaf: bool
    last: int
    section: Section
    prefix: tuple[str, ...]
    goal: str
    #: The text lines collected under it so far (shared with the detector's table).
    body: list[int] = field(default_factory=list)


@dataclass
class Outline:
    """What the detector made of a document: sections plus the lines it took as headings."""

    sections: list[Section]
    headings: list[int] = field(default_factory=list)


def running_headers(lines: Sequence[str], skip: set[int]) -> set[int]:
    """Short lines repeated on many pages (a running title), which are noise, not text.

    A line counts when the same short text recurs (four times, or about every other
    page of a long plan) and is not a heading candidate (repeated 「KPI」 labels are
    headings of their tables).
    """
    counts = Counter(fold_width(raw) for n, raw in enumerate(lines, start=1) if n not in skip)
    needed = max(4, len(lines) // 150)  # about every other page of a long plan; 「概要」 four times is a label
    repeated = {t for t, c in counts.items() if c >= needed and 0 < len(t) <= 30 and not t.endswith("。")
                and candidate(t) is None}
    return {n for n, raw in enumerate(lines, start=1) if n not in skip and fold_width(raw) in repeated}


def noise_lines(lines: Sequence[str]) -> dict[int, str]:
    """Blank lines, the 目次, page numbers and running headers, labelled (never deleted)."""
    noise = blank_and_toc_noise(lines)
    for number, raw in enumerate(lines, start=1):
        if number not in noise and is_page_number(raw):
            noise[number] = PAGE_NUMBER
    for number in running_headers(lines, set(noise)):
        noise[number] = RUNNING_HEADER
    return noise


def _unclosed(text: str) -> bool:
    return any(text.count(a) > text.count(b) for a, b in _OPEN_CLOSE)


def _title_lines(index: int, numbers: Sequence[int], texts: dict[int, str], width: int, max_len: int,
                 limit: int = 4) -> list[int]:
    """A heading's lines: more than one when its title was wrapped or set on the next line.

    「基本目標１」 alone, followed by 「…」, is one title; so is a line whose 「 or 【 only
    closes on a following line, and one that fills the page width without finishing.
    """
    heading = [numbers[index]]
    first = texts[numbers[index]]

    def near(number: int) -> bool:
        # A title continues on the next line or across a few blank ones (Kumamoto's extraction
        # doubles line breaks), never across a page of noise: a chunk's span must stay short.
        return number - heading[-1] <= TITLE_GAP
    bare = candidate(first) is not None and len(first) <= 8 and first.rstrip("】]").endswith(tuple("0123456789①②③④⑤⑥⑦⑧⑨"))
    cursor = index + 1
    if (bare and cursor < len(numbers) and near(numbers[cursor])
            and texts[numbers[cursor]].startswith(("「", "【", "～", "〜"))):
        heading.append(numbers[cursor])
        cursor += 1
    while cursor < len(numbers) and len(heading) < limit and near(numbers[cursor]):
        following = texts[numbers[cursor]]
        last = texts[heading[-1]]
        title_len = sum(len(texts[n]) for n in heading) + len(following)
        wrapped = (continues(last, following, width) and not last.endswith(("】", "」", "）", ")"))
                   and title_len <= max_len)
        if candidate(following) is not None or not (wrapped or _unclosed("".join(texts[n] for n in heading))):
            break
        heading.append(numbers[cursor])
        cursor += 1
    return heading


def _key(found: Candidate) -> str:
    return f"{found.scheme.name}{found.level or ''}{found.word}"


def _rank(found: Candidate) -> float | None:
    return float(found.level) if found.level else found.scheme.rank


def _place(found: Candidate, stack: list[_Open], series: dict[str, int]) -> int | None:
    """Where a candidate goes: the stack depth it takes, or None when it is text.

    A numbered series starts at 1 (or 2, when the extraction lost the first),
    continues by one (or two) from any open heading of its scheme, restarts at 1, or
    carries on across parents (plans often number ①–⑬ straight through their goals).
    A 1 right under an open heading of the same scheme starts a nested list in the
    same notation (「４ 基本目標」 followed by 「１ 『安全・安心な暮らし』を守る」).
    Anything else (a repeated running label, numbered prose) is text.
    """
    key = _key(found)
    while stack and stack[-1].leaf:
        stack.pop()
    same = [i for i in range(len(stack) - 1, -1, -1) if stack[i].key == key]
    if not found.scheme.numbered:
        return same[0] if same else _below(found, stack)
    for i in same:
        if found.number in (stack[i].last + 1, stack[i].last + 2):
            return i
    if same and found.number == 1:
        innermost = same[0]
        if innermost == len(stack) - 1 and not stack[innermost].body:
            return len(stack)
        return innermost if stack[innermost].last >= 2 else None
    if not same and (found.number in (1, 2) or found.number == series.get(key, -1) + 1):
        return _below(found, stack)
    return None


def _below(found: Candidate, stack: list[_Open]) -> int:
    """Depth of a new scheme: under the innermost open heading of a shallower rank."""
    rank = _rank(found)
    depth = len(stack)
    while depth and rank is not None and stack[depth - 1].rank is not None and (stack[depth - 1].rank or 0) >= rank:
        depth -= 1
    return depth


def detect(numbers: Sequence[int], lines: Sequence[str], *, root_title: str) -> Outline:
    """Sections of the content lines ``numbers`` (ascending, noise removed)."""
    texts = {n: fold_width(lines[n - 1]) for n in numbers}
    root = Section(kind=PARAGRAPH, path=(root_title,), style="root")
    sections = [root]
    content: dict[int, list[int]] = {id(root): []}
    prefixes: dict[int, tuple[str, ...]] = {id(root): root.path}
    goals: set[int] = set()
    stack: list[_Open] = []
    current = root
    headings: list[int] = []
    series: dict[str, int] = {}
    width = wrap_width(lines)
    index = 0
    while index < len(numbers):
        number = numbers[index]
        found = candidate(texts[number]) if "\t" not in lines[number - 1].strip() else None
        depth = _place(found, stack, series) if found is not None else None
        if found is None or depth is None:
            content[id(current)].append(number)
            index += 1
            continue
        key, rank = _key(found), _rank(found)
        del stack[depth:]
        heading = _title_lines(index, numbers, texts, width, found.scheme.max_len)
        index += len(heading)
        title = heading_title(lines, heading)
        if found.scheme.name == "markdown":
            title = title.lstrip("#").strip()
        parent = stack[-1] if stack else None
        kind = heading_kind(title, parent.section.kind if parent else None, found.scheme.numbered,
                            parent.section.title if parent else "")
        path = (parent.prefix if parent else root.path) + (title,)
        goal = title if kind == GOAL else (parent.goal if parent else "")
        section = Section(kind=kind, path=path, heading=heading, number=str(found.number or ""),
                          goal=goal, style=found.scheme.name)
        sections.append(section)
        content[id(section)] = []
        prefixes[id(section)] = path
        if kind == GOAL:
            goals.add(id(section))
        stack.append(_Open(key, rank, found.scheme.leaf, found.number, section, path, goal, content[id(section)]))
        series[key] = found.number
        headings.extend(heading)
        current = section
    for section in sections:
        section.blocks = group_blocks(content[id(section)], lines, width)
    kept = [s for s in sections if s.heading or s.blocks]
    # A heading directly followed by its KPI label keeps its own chunk (donating its title
    # would turn a measure into a KPI table), and so does one far above what follows it
    # (across a page of noise the merged chunk would span too many lines to cite).
    keep = goals | {id(a) for a, b in pairwise(kept)
                    if b.style == "kpi-label" or (a.heading and b.lines and b.lines[0] - a.heading[-1] > MAX_DONATION_GAP)}
    return Outline(donate_empty_headings(kept, prefixes, keep), headings)


def claims(doc: Document) -> bool:
    return True


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise = noise_lines(lines)
    # Vertical labels (方/向/性, one character per line) read as one word on the run's first
    # line, as the family parsers do: every Japanese PDF extraction produces them.
    vertical = fold_vertical(lines, (run for run in vertical_runs(lines) if not any(n in noise for n in run)))
    view, display, hidden = vertical.view, vertical.display, vertical.hidden
    content = [n for n in range(1, len(lines) + 1) if n not in noise and n not in hidden]
    outline = detect(content, view, root_title=doc.title)
    vertical.give_back(outline.sections)
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=outline.sections, noise=noise, display=display)
