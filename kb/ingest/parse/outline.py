"""One heading grammar engine for every layout family.

A family describes its headings as :class:`HeadingRule` s (a pattern plus the styles
it may nest under); :func:`build_outline` walks the content lines once with a stack
and returns flat :class:`~kb.ingest.parse.model.Section` s carrying full heading paths.
Families differ in their rules and in the lines they pull out beforehand (floating
KPI tables, footnotes), not in how an outline is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.ingest.parse.common import fold_width
from kb.ingest.parse.model import PARAGRAPH, Section
from kb.ingest.text import clean_line, continues, join_wrapped, wrap_width


@dataclass(frozen=True)
class HeadingRule:
    """A heading style: what it looks like and where it may sit in the outline.

    ``parents`` lists the styles this heading nests under; the engine pops the stack
    until one of them is on top (an empty tuple means top level). ``until`` lets a
    title run over several lines (「…」 titles wrapped by the PDF).
    """

    style: str
    pattern: re.Pattern[str]
    kind: str = PARAGRAPH
    parents: tuple[str, ...] = ()
    kind_under: Mapping[str, str] = field(default_factory=dict)
    until: re.Pattern[str] | None = None
    max_lines: int = 4
    max_len: int = 70
    is_goal: bool = False
    in_path: bool = True
    allow_sentence_end: bool = False
    max_indent: int | None = None
    wrap_min: int = 0

    def matches(self, text: str, raw: str = "") -> re.Match[str] | None:
        if len(text) > self.max_len:
            return None
        if self.max_indent is not None and len(raw) - len(raw.lstrip(" \u3000")) > self.max_indent:
            return None
        if not self.allow_sentence_end and text.endswith("。"):
            return None
        return self.pattern.match(text)


def rule(style: str, pattern: str, *, until: str | None = None, **options: Any) -> HeadingRule:
    """A :class:`HeadingRule` from pattern strings (the families' rule tables read better so)."""
    return HeadingRule(
        style=style,
        pattern=re.compile(pattern),
        until=re.compile(until) if until is not None else None,
        **options,
    )


def group_blocks(numbers: Sequence[int], lines: Sequence[str], width: int | None = None) -> list[list[int]]:
    """Group content lines into unsplittable units: bullets, paragraphs, table rows.

    A line continues the previous unit when that unit has not finished its
    sentence (PDF wrapping), unless it starts a bullet or is a table row.
    """
    width = width or wrap_width(lines)
    blocks: list[list[int]] = []
    previous = ""
    for number in numbers:
        raw = lines[number - 1]
        text = clean_line(raw)
        row = "\t" in raw.strip()
        if blocks and not row and continues(previous, text, width):
            blocks[-1].append(number)
            previous = text
        else:
            blocks.append([number])
            previous = "" if row else text
    return blocks


_LIST_MARKER = re.compile(r"^-\s+")
#: Title lines this long (in a 38–50 character layout) were cut by the page width.
TITLE_WRAP_WIDTH = 36


def heading_title(lines: Sequence[str], numbers: Sequence[int]) -> str:
    first = _LIST_MARKER.sub("", clean_line(lines[numbers[0] - 1]))  # "- ①…" list markup
    rest = join_wrapped([lines[n - 1] for n in numbers[1:]]).replace("\n", "")
    if not rest:
        return first
    if first.endswith(("「", "（")) or continues(first, rest, TITLE_WRAP_WIDTH):
        return first + rest  # the PDF wrapped one title line: 「…推進しま」+「す。」
    return f"{first} {rest}"


def build_outline(
    numbers: Sequence[int],
    lines: Sequence[str],
    rules: Sequence[HeadingRule],
    *,
    root_title: str,
    forced: Mapping[int, str] | None = None,
    titles: Mapping[int, str] | None = None,
) -> list[Section]:
    """Build sections from the content lines ``numbers`` (ascending, noise removed).

    ``forced`` maps a line to a rule style when the heading can only be recognised
    by context (a 連携事業 name is a heading because 事業の目的と概要 follows it).
    ``titles`` overrides the displayed title of a heading line (e.g. renumbering
    OCR-garbled circled numbers).
    """
    forced = forced or {}
    titles = titles or {}
    by_style = {r.style: r for r in rules}
    root = Section(kind=PARAGRAPH, path=(root_title,), style="root")
    sections: list[Section] = [root]
    content: dict[int, list[int]] = {id(root): []}
    stack: list[tuple[HeadingRule, Section, tuple[str, ...]]] = []
    prefixes: dict[int, tuple[str, ...]] = {id(root): root.path}
    goals: set[int] = set()
    current = root
    index = 0
    while index < len(numbers):
        number = numbers[index]
        text = fold_width(lines[number - 1])
        matched: HeadingRule | None = None
        if number in forced:
            matched = by_style[forced[number]]
        elif "\t" not in lines[number - 1].strip():  # table rows are never headings
            for candidate in rules:
                if candidate.matches(text, lines[number - 1]):
                    matched = candidate
                    break
        if matched is not None and matched.parents and not any(
            entry[0].style in matched.parents for entry in stack
        ):
            matched = None  # a heading shape out of context (e.g. ● inside prose) is text
        if matched is None:
            content[id(current)].append(number)
            index += 1
            continue
        heading = [number]
        if matched.until is not None:
            while (
                not matched.until.search(fold_width(lines[heading[-1] - 1]))
                and len(fold_width(lines[heading[-1] - 1])) >= matched.wrap_min
                and index + 1 < len(numbers)
                and len(heading) < matched.max_lines
            ):
                index += 1
                heading.append(numbers[index])
        while stack and stack[-1][0].style not in matched.parents:
            stack.pop()
        parent_rule = stack[-1][0] if stack else None
        parent_path = stack[-1][2] if stack else ()
        parent_goal = stack[-1][1].goal if stack else ""
        title = titles.get(number) or heading_title(lines, heading)
        kind = matched.kind_under.get(parent_rule.style, matched.kind) if parent_rule else matched.kind
        path = parent_path + (title,)
        section = Section(
            kind=kind,
            path=path,
            heading=heading,
            style=matched.style,
            goal=title if matched.is_goal else parent_goal,
        )
        sections.append(section)
        content[id(section)] = []
        prefix = path if matched.in_path else parent_path
        stack.append((matched, section, prefix))
        prefixes[id(section)] = prefix
        if matched.is_goal:
            goals.add(id(section))
        current = section
        index += 1
    width = wrap_width(lines)
    for section in sections:
        section.blocks = group_blocks(content[id(section)], lines, width)
    kept = [s for s in sections if s.heading or s.blocks]
    return donate_empty_headings(kept, prefixes, goals)


def donate_empty_headings(
    sections: list[Section], prefixes: Mapping[int, tuple[str, ...]], goals: set[int]
) -> list[Section]:
    """Give the title lines of a content-less heading to the section that follows it.

    "(１) 魅力あるしごとの創出" directly followed by "① 新事業の創出…" would otherwise
    be a chunk holding one title line; merged, the sub-measure chunk starts with its
    measure's title. Goals keep their own chunk (it lists their measures instead).
    """
    result: list[Section] = []
    carried: list[int] = []
    for index, section in enumerate(sections):
        if carried:
            section.heading = sorted(carried + section.heading)
            carried = []
        following = sections[index + 1] if index + 1 < len(sections) else None
        prefix = prefixes.get(id(section), section.path)
        empty = not section.blocks and id(section) not in goals
        if empty and following is not None and following.path[: len(prefix)] == prefix:
            carried = list(section.heading)
            continue
        result.append(section)
    return result
