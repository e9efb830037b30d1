"""The general outline detector: headings of any Japanese plan that no layout family claims.

A staff member adding a new plan should get an outline, not a flat list of paragraphs,
before anyone writes a family parser for it. Japanese plans number their headings with a
small set of conventional schemes (第N章 → 第N節 → 1 → (1) → ① → ア, plus 基本目標N,
施策N, 【…】 labels and ■/●/◆ markers), so this module

1. recognises a line as a *candidate* heading of one scheme
   (:data:`kb.ingest.parse.general_schemes.SCHEMES`), or knows it as a heading from the
   layout around it (:mod:`kb.ingest.parse.general_layouts`: 施策 pages numbered 01, 02 …,
   recurring vertical box labels, record sheets, headings of web text);
2. accepts it only if its number continues that scheme's series at its level (1, 2, 3 …
   or a restart at 1 under a new parent), which rejects numbered prose, table rows and
   running headers that repeat the same label;
3. infers nesting from the schemes' conventional ranks where they have one (a 第N章
   always closes every (1)) and from the order of first appearance otherwise (a ■
   first seen under (2) nests under (1)-level headings), the way a reader does;
4. names each heading's kind from its words (数値目標/KPI → kpi, 目標 → goal,
   施策/取組/方向性 → measure) or its label (政策N is a goal, 基本事業N a measure); a
   numbered heading under a goal is a measure and one under a measure stays a measure,
   because that is how plans nest them;
5. reads the outline once more with chart captions (a ■ line with no text and nothing
   under it) and empty KPI labels as text.

The output is the same :class:`ParsedDocument` of :class:`Section` s that the family
parsers build, so chunking, KPIs and the source view work unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from kb.ingest.corpus import Document
from kb.ingest.parse.common import (
    blank_and_toc_noise,
    fold_vertical,
    fold_width,
    is_page_number,
    unclosed,
    vertical_runs,
)
from kb.ingest.parse.general_layouts import (
    kpi_entries,
    page_measures,
    plain_headings,
    prose,
    record_titles,
    vertical_labels,
    web_chrome,
)
from kb.ingest.parse.general_schemes import BY_NAME, Candidate, candidate, heading_kind, number_of
from kb.ingest.parse.model import GOAL, PAGE_NUMBER, PARAGRAPH, RUNNING_HEADER, ParsedDocument, Section
from kb.ingest.parse.outline import donate_empty_headings, group_blocks, heading_title
from kb.ingest.text import continues, wrap_width

FAMILY = "general"

#: The furthest (in lines) an empty heading may be from the section that takes its title.
MAX_DONATION_GAP = 20
#: The furthest (in lines) a title's next line may be from its previous one.
TITLE_GAP = 8


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
    #: Heading lines that turned out to caption a chart or table (or float a KPI label):
    #: :func:`parse` detects again with them as text.
    captions: set[int] = field(default_factory=set)


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


def _title_lines(index: int, numbers: Sequence[int], texts: dict[int, str], width: int, max_len: int,
                 hints: Hints, limit: int = 4) -> list[int]:
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
        if (candidate(following) is not None or numbers[cursor] in hints.forced) or not (wrapped or unclosed("".join(texts[n] for n in heading))):
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
    if found.scheme.dashed:
        return _place_dashed(found, stack, same, series.get(key, 0))
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


def _value(found: Candidate) -> int:
    """The number a series continues from: 2-3 is 203, so 2-4 and 3-1 both follow it."""
    return found.parent * 100 + found.number if found.scheme.dashed else found.number


def _place_dashed(found: Candidate, stack: list[_Open], same: list[int], last: int) -> int | None:
    """A two-level number (1-1, 1-2, 2-1) continues within its first number or starts the next at 1."""
    for i in same:
        parent, number = divmod(stack[i].last, 100)
        if (found.parent == parent and found.number in (number + 1, number + 2)) or (
                found.parent == parent + 1 and found.number == 1):
            return i
    if not same and found.number == 1 and found.parent in (1, last // 100 + 1):
        return _below(found, stack)
    return None


#: How often a marked label must recur to be a field of a repeated form.
FIELD_REPEATS = 3


def field_labels(numbers: Sequence[int], texts: Mapping[int, str]) -> set[str]:
    """Marked labels that recur (【施策の目的】, <課題> on every measure's page): fields of a form.

    Such a label heads its own text only; the measure's next numbered heading (基本事業１)
    belongs to the measure, not to the field above it, so a field label is a leaf.
    """
    counts = Counter(texts[n] for n in numbers if (found := candidate(texts[n])) is not None and found.scheme.marker)
    return {text for text, count in counts.items() if count >= FIELD_REPEATS}


def _label_only(found: Candidate, text: str) -> bool:
    """A line that is a label and nothing else: a part name (参考資料) or a number label (基本目標１)."""
    if found.scheme.name == "named":
        return True
    rest = text.replace(" ", "").lstrip("【[").rstrip("】]").removeprefix(found.word)
    return bool(found.word) and number_of(rest) > 0


def _forced_depth(found: Candidate, stack: list[_Open]) -> int:
    """A heading known from the layout whose number breaks its series: beside its scheme's last heading."""
    key = _key(found)
    same = [i for i in range(len(stack) - 1, -1, -1) if stack[i].key == key]
    return same[0] if same else _below(found, stack)


def _below(found: Candidate, stack: list[_Open]) -> int:
    """Depth of a new scheme: under the innermost open heading of a shallower rank."""
    rank = _rank(found)
    depth = len(stack)
    while depth and rank is not None and stack[depth - 1].rank is not None and (stack[depth - 1].rank or 0) >= rank:
        depth -= 1
    return depth


@dataclass(frozen=True)
class Hints:
    """What the whole-document passes (:mod:`kb.ingest.parse.general_layouts`) know about lines.

    ``forced`` lines are headings of the given candidate whatever they look like (a vertical
    label, a 施策 page's title); ``attached`` adds lines (its printed number) to such a
    heading; ``text`` lines are never headings (a chart caption, a floating KPI label).
    """

    forced: Mapping[int, Candidate] = field(default_factory=dict)
    attached: Mapping[int, Sequence[int]] = field(default_factory=dict)
    text: frozenset[int] = frozenset()


def _candidate_at(number: int, lines: Sequence[str], texts: dict[int, str], hints: Hints) -> Candidate | None:
    if number in hints.forced:
        return hints.forced[number]
    if number in hints.text or "\t" in lines[number - 1].strip():
        return None
    return candidate(texts[number])


def detect(numbers: Sequence[int], lines: Sequence[str], *, root_title: str, hints: Hints | None = None) -> Outline:
    """Sections of the content lines ``numbers`` (ascending, noise removed)."""
    hints = hints or Hints()
    attached = {n for extra in hints.attached.values() for n in extra}
    numbers = [n for n in numbers if n not in attached]
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
    labels: set[str] = set()
    fields = field_labels(numbers, texts)
    width = wrap_width(lines)
    index = 0
    while index < len(numbers):
        number = numbers[index]
        found = _candidate_at(number, lines, texts, hints)
        depth = _place(found, stack, series) if found is not None else None
        if found is not None and depth is None and number in hints.forced:
            depth = _forced_depth(found, stack)
        if found is None or depth is None:
            content[id(current)].append(number)
            index += 1
            continue
        key, rank = _key(found), _rank(found)
        if number in hints.forced:
            heading = [number]
        else:
            heading = _title_lines(index, numbers, texts, width, found.scheme.max_len, hints)
        title = heading_title(lines, heading)
        if _label_only(found, texts[number]):
            if texts[number] in labels and len(heading) == 1:  # a part name or bare 基本目標１ again: a running label
                content[id(current)].append(number)
                index += 1
                continue
            labels.add(texts[number])
        del stack[depth:]
        index += len(heading)
        heading = sorted([*heading, *hints.attached.get(number, ())])
        if found.scheme.name == "markdown":
            title = title.lstrip("#").strip()
        parent = stack[-1] if stack else None
        kind = heading_kind(title, parent.section.kind if parent else None, found.scheme.numbered,
                            parent.section.title if parent else "", found.scheme.kind)
        path = (parent.prefix if parent else root.path) + (title,)
        goal = title if kind == GOAL else (parent.goal if parent else "")
        section = Section(kind=kind, path=path, heading=heading, number=str(found.number or ""),
                          goal=goal, style=found.scheme.name)
        sections.append(section)
        content[id(section)] = []
        prefixes[id(section)] = path
        if kind == GOAL:
            goals.add(id(section))
        # A field label directly above numbered items (【施策】 over (1) (2) …) heads them.
        heads_list = index < len(numbers) and _candidate_at(numbers[index], lines, texts, hints) is not None
        leaf = found.scheme.leaf or (texts[number] in fields and not heads_list)
        stack.append(_Open(key, rank, leaf, _value(found), section, path, goal, content[id(section)]))
        series[key] = _value(found)
        headings.extend(heading)
        current = section
    for section in sections:
        section.blocks = group_blocks(content[id(section)], lines, width)
    captions = _captions(sections, content, texts, lines, fields)
    kept = [s for s in sections if s.heading or s.blocks]
    # A heading directly followed by its KPI label keeps its own chunk (donating its title
    # would turn a measure into a KPI table), and so does one far above what follows it
    # (across a page of noise the merged chunk would span too many lines to cite).
    keep = goals | {id(a) for a, b in pairwise(kept)
                    if b.style == "kpi-label" or (a.heading and b.lines and b.lines[0] - a.heading[-1] > MAX_DONATION_GAP)}
    return Outline(donate_empty_headings(kept, prefixes, keep), headings, captions)


def _captions(sections: list[Section], content: Mapping[int, list[int]], texts: Mapping[int, str],
              lines: Sequence[str], fields: set[str]) -> set[int]:
    """Marker headings (■, 【】 …) with no running text and nothing under them, and empty KPI labels.

    Plans mark chart and table titles the way they mark headings; what tells them apart is
    that a caption heads a figure (no text of its own, no sub-headings). A KPI label with
    nothing under it marks a table the extraction moved elsewhere. Fields of a repeated
    form (:func:`field_labels`) are neither.
    """
    found: set[int] = set()
    for index, section in enumerate(sections):
        scheme = BY_NAME.get(section.style)
        if scheme is None or not (scheme.marker or scheme.leaf) or texts[section.heading[0]] in fields:
            continue  # a field of a repeated form is no figure, even where it is empty
        body = content[id(section)]
        following = sections[index + 1] if index + 1 < len(sections) else None
        has_children = following is not None and following.path[:len(section.path)] == section.path
        floating_kpi = scheme.leaf and not body
        figure = scheme.marker and not has_children and not any(prose(texts[n], lines[n - 1]) for n in body)
        if floating_kpi or figure:
            found.update(section.heading)
    return found


def claims(doc: Document) -> bool:
    return True


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise = noise_lines(lines)
    noise.update(web_chrome(lines))
    # Vertical labels (方/向/性, one character per line) read as one word on the run's first
    # line, as the family parsers do: every Japanese PDF extraction produces them.
    vertical = fold_vertical(lines, (run for run in vertical_runs(lines) if not any(n in noise for n in run)))
    view, display, hidden = vertical.view, vertical.display, vertical.hidden
    forced, attached = page_measures(lines)
    for extra in attached.values():  # a 施策 page's printed number is part of its heading, not a page number
        for number in extra:
            noise.pop(number, None)
    content = [n for n in range(1, len(lines) + 1) if n not in noise and n not in hidden]
    forced = {**record_titles(content, lines), **plain_headings(content, lines), **vertical_labels(vertical),
              **forced}
    text = frozenset(kpi_entries(content, lines))
    outline = detect(content, view, root_title=doc.title, hints=Hints(forced, attached, text))
    if outline.captions:
        outline = detect(content, view, root_title=doc.title, hints=Hints(forced, attached, text | outline.captions))
    vertical.give_back(outline.sections)
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=outline.sections, noise=noise, display=display)
