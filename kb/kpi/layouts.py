"""Line parsers for the KPI layouts that PDF extraction left in the plans.

Each parser reads numbered lines (``(line_number, raw_text)``) of one table or block
and returns :class:`Row` s plus :class:`Problem` s for the lines it could not read.
They never guess: a value that is not printed stays ``None`` and a line that fits no
known shape is reported, because a planner copying a target into a report must be
able to trust every number (and see where the text was too broken to read).

Layouts (all seen in ``corpus/``):

* ``floating``: Kumamoto's KPI tables dropped to the page bottom ("基準値 目標値 /
  H30(2018) R5(2023) / name unit base target / 単位"); a row may wrap its name, or put
  base and target on their own lines with a per-row base year in between.
* ``appendix``: Kumamoto's first-period review tables (目標値 and 実績値 rows per
  indicator over the columns H27 (基準値), H28 … H31).
* ``diamond``: the wide-area vision's "◇name base → target" lines.
* ``progress``: the vision's tab-separated 成果指標 tables (基準値, 目標値, R4–R6, mark).
* ``indicators``: the comprehensive plan's 施策指標 list (names only, no values).
* population targets in prose (目標人口, 人口フレーム, 将来展望) are read by
  :func:`population_targets`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.ingest.parse.common import fold_width

Line = tuple[int, str]

#: A printed value: "2,496", "-1,394", "7,000以上", "60.5", "13.60%".
VALUE = r"[-−△▲]?\d[\d,]*(?:\.\d+)?(?:以上|以下|未満)?"
MISSING = "―—-－"
_MISSING_CLASS = "[" + "".join(re.escape(c) for c in MISSING) + "]"
_VALUE_RE = re.compile(rf"^{VALUE}$")
_YEAR_RE = re.compile(r"^(?P<era>[HR])\s*(?P<num>\d{1,2})\s*[(（]\s*(?P<ad>\d{4})\s*[)）]$")
_HEADER_YEARS_RE = re.compile(
    r"^(?P<base>[HR]\d{1,2}\s*\(\d{4}\))\s+(?P<target>[HR]\d{1,2}\s*\(\d{4}\))$"
)
_PAREN_YEAR_RE = re.compile(r"^[(（]\s*(?P<year>[HR]\d{1,2})\s*[)）]$")
_REPRINT_RE = re.compile(r"^[(（]再掲[)）]\s*")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass(frozen=True)
class Progress:
    """One reported value of an indicator between its baseline and its target."""

    column: str
    value: str
    year: str = ""  # the year the figure describes, when it differs from the column


@dataclass
class Row:
    """One indicator as printed; values are the printed strings (width-folded)."""

    name: str
    lines: list[int]
    unit: str = ""
    base: str | None = None
    base_year: str = ""
    target: str | None = None
    target_year: str = ""
    reprint: bool = False
    progress: list[Progress] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Problem:
    """A line inside a KPI table that no parser could read, and why."""

    line: int
    text: str
    reason: str


def _fold(text: str) -> str:
    return fold_width(text).replace("−", "-")


def _value(text: str) -> str:
    return text.replace(" ", "").replace("−", "-")


def _name(parts: Sequence[str]) -> str:
    """Join wrapped name fragments: the PDF broke them at the column edge, not at spaces."""
    return "".join(p.strip() for p in parts if p.strip())


# --------------------------------------------------------------------------- floating


_FULL_ROW_RE = re.compile(
    rf"^(?P<name>.+?)\s+(?P<unit>[^\s\d]{{1,4}}(?:/[^\s\d]{{1,3}})?)\s+(?P<base>{VALUE})\s+(?P<target>{VALUE})$"
)
_UNIT_ROW_RE = re.compile(r"^(?P<name>.+?)\s+(?P<unit>[^\s\d]{1,4}(?:/[^\s\d]{1,3})?)$")


def floating_table(lines: Sequence[Line]) -> tuple[list[Row], list[Problem]]:
    """Kumamoto's floating KPI table, from "基準値 目標値" to "単位"."""
    rows: list[Row] = []
    problems: list[Problem] = []
    base_year = target_year = ""
    pending: list[tuple[int, str]] = []  # name fragments waiting for their unit/values
    current: Row | None = None
    values = 0  # values read into ``current``
    for number, raw in lines:
        text = _fold(raw)
        if not text or text in ("基準値 目標値", "単位"):
            continue
        header = _HEADER_YEARS_RE.match(text)
        if header:
            base_year = header.group("base").replace(" ", "")
            target_year = header.group("target").replace(" ", "")
            continue
        full = _FULL_ROW_RE.match(text)
        unit_only = _UNIT_ROW_RE.match(text) if not full else None
        if full or unit_only:
            match = full or unit_only
            assert match is not None
            name = _name([t for _, t in pending] + [match.group("name")])
            row = Row(name=name, lines=[n for n, _ in pending] + [number], unit=match.group("unit"),
                      base_year=base_year, target_year=target_year)
            if full:
                row.base, row.target = _value(match.group("base")), _value(match.group("target"))
                values = 2
            else:
                values = 0
            pending = []
            rows.append(row)
            current = row
            continue
        if _VALUE_RE.match(text.replace(" ", "")) and current is not None and values < 2:
            if values == 0:
                current.base = _value(text)
            else:
                current.target = _value(text)
            values += 1
            current.lines.append(number)
            continue
        year = _YEAR_RE.match(text)
        if year and current is not None and values in (1, 2):
            label = f"{year.group('era')}{year.group('num')}({year.group('ad')})"
            if values == 1:
                current.base_year = label
            else:
                current.target_year = label
            current.lines.append(number)
            continue
        if _VALUE_RE.match(text.replace(" ", "")) or year:
            problems.append(Problem(number, raw.strip(), "a value or year with no indicator to belong to"))
            continue
        pending.append((number, text))
    for number, text in pending:
        problems.append(Problem(number, text, "text with no unit or values after it"))
    for row in rows:
        if row.base is None or row.target is None:
            problems.append(Problem(row.lines[0], row.name, "row without both a baseline and a target"))
        _mark_reprint(row)
    return rows, problems


def _mark_reprint(row: Row) -> None:
    if _REPRINT_RE.match(row.name):
        row.reprint = True
        row.name = _REPRINT_RE.sub("", row.name)


# --------------------------------------------------------------------------- appendix

_APPENDIX_COLUMNS = ("H27", "H28", "H29", "H30", "H31")
_APPENDIX_SKIP = {"数値目標 単位", "KPI 単位", "H27", "H28 H29 H30 H31", "基準値"}
_TOKEN_RE = re.compile(rf"{VALUE}|{_MISSING_CLASS}|[(（]\s*[HR]\d{{1,2}}\s*[)）]")


def _tokens(text: str) -> list[str] | None:
    """The value tokens of a line made only of values, dashes and "(H26)" years; else None."""
    found: list[str] = []
    for part in text.split():  # spaces separate cells: "4 11 12" is three values, not 41112
        tokens = _TOKEN_RE.findall(part)
        if not tokens or "".join(tokens) != part:
            return None
        found.extend(tokens)
    return found or None


def _cells(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """Attach each "(H26)" to the value before it: [(value, data year)]."""
    cells: list[tuple[str, str]] = []
    for token in tokens:
        paren = _PAREN_YEAR_RE.match(token)
        if paren and cells:
            cells[-1] = (cells[-1][0], paren.group("year"))
        elif not paren:
            cells.append((token, ""))
    return cells


def _is_missing(value: str) -> bool:
    return value in MISSING


def appendix_table(lines: Sequence[Line]) -> tuple[list[Row], list[Problem]]:
    """Kumamoto's first-period review table: per indicator a 目標値 and a 実績値 row.

    Columns are H27 (the 基準値) and H28–H31. The 基準値 cell spans both rows, so its
    figure lands on whichever row the extraction put it (usually 実績値, once 目標値);
    the other row shows "―" there. "(H24)" after a figure (often on its own line)
    names the year the figure describes. A "※" line after the last row is a note.
    """
    rows: list[Row] = []
    problems: list[Problem] = []
    name_parts: list[tuple[int, str]] = []
    state = "name"
    current: Row | None = None
    targets: list[str] = []
    actuals: list[str] = []

    for number, raw in lines:
        text = _fold(raw)
        if not text or text in _APPENDIX_SKIP:
            continue
        if text == "目標値":
            if state != "name" or not name_parts:
                problems.append(Problem(number, raw.strip(), "目標値 without an indicator name"))
                continue
            notes = [t for _, t in name_parts if t.startswith("※")]
            name = _name([t for _, t in name_parts if not t.startswith("※")])
            current = Row(name=name, lines=[n for n, _ in name_parts] + [number], note=" ".join(notes))
            rows.append(current)
            name_parts, targets, actuals = [], [], []
            state = "unit"
            continue
        if state == "unit":
            assert current is not None
            current.unit = text
            current.lines.append(number)
            state = "targets"
            continue
        if text.startswith("実績値") and state == "targets":
            assert current is not None
            current.lines.append(number)
            rest = text.removeprefix("実績値").strip()
            tokens = _tokens(rest) if rest else []
            if tokens is None:
                problems.append(Problem(number, raw.strip(), "unreadable 実績値 row"))
                tokens = []
            actuals.extend(tokens)
            state = "actuals"
            continue
        tokens = _tokens(text)
        if tokens is not None and state in ("targets", "actuals"):
            assert current is not None
            (targets if state == "targets" else actuals).extend(tokens)
            current.lines.append(number)
            continue
        if state == "actuals":
            assert current is not None
            _close_appendix_row(current, _cells(targets), _cells(actuals), problems)
            current, state = None, "name"
        if state == "name":
            name_parts.append((number, text))
        else:
            problems.append(Problem(number, raw.strip(), f"unexpected line while reading {state}"))
    if current is not None and state == "actuals":
        _close_appendix_row(current, _cells(targets), _cells(actuals), problems)
    if rows and name_parts and all(t.startswith("※") for _, t in name_parts):
        rows[-1].note = " ".join(filter(None, [rows[-1].note] + [t for _, t in name_parts]))
        name_parts = []
    for number, text in name_parts:
        problems.append(Problem(number, text, "indicator name without 目標値/実績値 rows"))
    return rows, problems


def _close_appendix_row(
    row: Row, targets: list[tuple[str, str]], actuals: list[tuple[str, str]], problems: list[Problem]
) -> None:
    if len(targets) != len(_APPENDIX_COLUMNS) or not 4 <= len(actuals) <= len(_APPENDIX_COLUMNS):
        problems.append(Problem(row.lines[0], row.name,
                                f"expected 5 目標値 and 4–5 実績値 cells, found {len(targets)} and {len(actuals)}"))
    base_cells = [c for c in (targets[:1] + actuals[:1]) if not _is_missing(c[0])]
    if base_cells:
        row.base = _value(base_cells[0][0])
        row.base_year = base_cells[0][1] or _APPENDIX_COLUMNS[0]
    if len(targets) > 1 and not _is_missing(targets[-1][0]):
        row.target = _value(targets[-1][0])
        row.target_year = targets[-1][1] or _APPENDIX_COLUMNS[len(targets) - 1]
    row.progress = [
        Progress(column=_APPENDIX_COLUMNS[i], value=value, year=year)
        for i, (value, year) in enumerate(actuals)
        if i > 0 and i < len(_APPENDIX_COLUMNS) and not _is_missing(value)
    ]
    row.progress += [
        Progress(column=f"目標{_APPENDIX_COLUMNS[i]}", value=value, year=year)
        for i, (value, year) in enumerate(targets)
        if 0 < i < len(targets) - 1 and not _is_missing(value)
    ]


# --------------------------------------------------------------------------- diamonds

_AMOUNT_RE = re.compile(
    rf"^(?P<value>{VALUE})\s*(?P<unit>[^\s(（※]*)\s*(?:※(?P<note>[^(（]*))?\s*[(（](?P<year>[^)）]+)[)）]$"
)


def _amount(text: str) -> tuple[str | None, str, str, str] | None:
    """"15,048 億円（R4 年度）" → ("15,048", "億円", "R4年度", note); a dash → (None, "", "", "")."""
    text = text.strip()
    if text and all(c in MISSING for c in text):
        return None, "", "", ""
    match = _AMOUNT_RE.match(text)
    if not match:
        return None
    return (_value(match.group("value")), match.group("unit").strip(),
            match.group("year").replace(" ", ""), (match.group("note") or "").strip())


def diamond_kpis(lines: Sequence[Line]) -> tuple[list[Row], list[Problem]]:
    """The vision's "◇name base → target" KPIs; the values may sit on the next line."""
    rows: list[Row] = []
    problems: list[Problem] = []
    items: list[list[tuple[int, str]]] = []
    for number, raw in lines:
        text = _fold(raw)
        if not text:
            continue
        if text.startswith("◇"):
            items.append([(number, text[1:].strip())])
        elif items and "→" not in items[-1][0][1] and len(items[-1]) == 1:
            items[-1].append((number, text))
    for item in items:
        joined = " ".join(t for _, t in item)
        base_text, arrow, target_text = joined.partition("→")
        if not arrow:
            problems.append(Problem(item[0][0], joined, "◇ line without base → target"))
            continue
        # The name ends where the baseline starts: the last run before a value or a dash.
        split = re.match(rf"^(?P<name>.+?)\s+(?P<base>(?:{VALUE}.*|{_MISSING_CLASS}\s*))$", base_text.strip())
        base = _amount(split.group("base")) if split else None
        target = _amount(target_text)
        if split is None or base is None or target is None or target[0] is None:
            problems.append(Problem(item[0][0], joined, "◇ KPI values not in the form 'value unit (year)'"))
            continue
        rows.append(Row(name=split.group("name").strip(), lines=[n for n, _ in item], unit=target[1] or base[1],
                        base=base[0], base_year=base[2], target=target[0], target_year=target[2]))
    return rows, problems


# --------------------------------------------------------------------------- progress


def progress_table(lines: Sequence[Line]) -> tuple[list[Row], list[Problem]]:
    """The vision's 成果指標 table: ①name, 基準値, 目標値, ☞, R4, R5, R6, mark (tabs)."""
    rows: list[Row] = []
    problems: list[Problem] = []
    columns: list[str] = []
    for number, raw in lines:
        if "\t" not in raw:
            continue
        cells = [_fold(c) for c in raw.split("\t")]
        cells = [c for c in cells if c]
        if cells and cells[0].startswith("成果指標"):
            columns = [c for c in cells if re.fullmatch(r"R\d{1,2}", c)]
            continue
        start = next((i for i, c in enumerate(cells) if any(ch in _CIRCLED for ch in c)), None)
        if start is None:
            problems.append(Problem(number, raw.strip(), "table row without a numbered indicator"))
            continue
        first = cells[start]
        position = min(first.index(ch) for ch in _CIRCLED if ch in first)
        name = first[position + 1 :].strip()
        rest = [c for c in cells[start + 1 :] if c != "☞"]
        mark = rest.pop() if rest and rest[-1] in "○△×—-" else ""
        amounts = [_amount(c) for c in rest]
        if len(amounts) < 2 or amounts[0] is None or amounts[1] is None:
            problems.append(Problem(number, raw.strip(), "成果指標 row without readable 基準値 and 目標値"))
            continue
        base, target = amounts[0], amounts[1]
        progress = []
        for column, cell, amount in zip(columns or ["R4", "R5", "R6"], rest[2:], amounts[2:]):
            if amount is None or amount[0] is None:
                problems.append(Problem(number, cell, f"unreadable {column} value"))
                continue
            progress.append(Progress(column=column, value=f"{amount[0]}{amount[1]}", year=amount[2]))
        notes = [n for n in (base[3], target[3]) if n]
        rows.append(Row(name=name, lines=[number], unit=target[1] or base[1], base=base[0], base_year=base[2],
                        target=target[0], target_year=target[2], progress=progress,
                        note=("※" + " / ※".join(notes) if notes else "") + (f" 進捗{mark}" if mark else "")))
    return rows, problems


# --------------------------------------------------------------------------- indicators

_OUTCOME_RE = re.compile(r"増やす|調査[)）]|高める")


def indicator_entries(lines: Sequence[Line]) -> tuple[list[Row], list[int], list[Problem]]:
    """The 施策指標 column of the comprehensive plan: one entry per 施策, in order.

    An entry wrapped over two lines ends its first line with "、". The column is
    followed (in extraction order) by the 目指す成果 statements ("…市民を増やす
    （市民意識調査）") and the goal numbers; the entries end where a statement
    starts (it says 増やす/調査 within two lines). Returns the entries (each a Row
    whose name may list several indicators separated by "、"), the goal numbers
    printed in the block, and problems.
    """
    texts = [(n, _fold(raw)) for n, raw in lines if _fold(raw)]
    texts = [(n, t) for n, t in texts if t != "基本目標 目指す成果 施策指標"]
    entries: list[Row] = []
    goals = [int(t) for _, t in texts if re.fullmatch(r"\d{1,2}", t)]
    index = 0
    while index < len(texts):
        number, text = texts[index]
        window = " ".join(t for _, t in texts[index : index + 2])
        if _OUTCOME_RE.search(window) or re.fullmatch(r"\d{1,2}", text) or text.startswith("「"):
            break
        parts, numbers = [text], [number]
        while parts[-1].endswith("、") and index + 1 < len(texts):
            index += 1
            parts.append(texts[index][1])
            numbers.append(texts[index][0])
        entries.append(Row(name="".join(parts), lines=numbers))
        index += 1
    return entries, goals, []


#: What an indicator's name ends with: a count, rate, share, amount, or a bracketed qualifier.
_MEASURABLE_RE = re.compile(r"(数|率|割合|量|額|治安|[)）])$")


def split_indicators(entry: str) -> list[str]:
    """"一般刑法犯認知件数、体感治安" → two names, but "市民活動団体や地域コミュニティ組織、
    事業者等との協働事業数" stays one: 、 splits only after something measurable,
    and never inside brackets."""
    names, depth, current = [], 0, ""
    for char in entry:
        if char in "（(「":
            depth += 1
        elif char in "）)」":
            depth = max(0, depth - 1)
        if char == "、" and depth == 0 and _MEASURABLE_RE.search(current.strip()):
            names.append(current.strip())
            current = ""
        else:
            current += char
    names.append(current.strip())
    return [n for n in names if n]


# --------------------------------------------------------------------------- population

_ERA_YEAR = r"(?:令和|平成)\d{1,2}(?:[(（]\d{4}[)）])?年度?末?"
POPULATION_PATTERNS = (
    # 令和12(2030)年度末の人口を29万5千人 / 令和17(2035)年度末の人口を29万人
    re.compile(rf"(?P<year>{_ERA_YEAR})の人口を(?P<value>約?[\d.]+万[\d千]*)人"),
    # 令和12年度末における目標人口を43.6万人
    re.compile(rf"(?P<year>{_ERA_YEAR})における目標人口を(?P<value>約?[\d.]+万[\d千]*)人"),
    # 令和32(2050)年において約70万人の人口を維持する
    re.compile(rf"(?P<year>{_ERA_YEAR})において(?P<value>約?[\d.]+万[\d千]*)人の人口を維持"),
)


def population_targets(lines: Sequence[Line]) -> list[Row]:
    """Target populations stated in a paragraph (its wrapped lines joined, spaces removed)."""
    joined = ""
    offsets: list[tuple[int, int]] = []
    for number, raw in lines:
        offsets.append((len(joined), number))
        joined += _fold(raw).replace(" ", "")
    rows = []
    for pattern in POPULATION_PATTERNS:
        for match in pattern.finditer(joined):
            start, end = match.span()
            numbers = [n for offset, n in offsets if offset < end] or [lines[0][0]]
            first = [n for offset, n in offsets if offset <= start][-1:] or numbers[:1]
            span = [n for n in numbers if n >= first[0]]
            rows.append(Row(name="", lines=span, unit="人", target=match.group("value"),
                            target_year=match.group("year")))
    return sorted(rows, key=lambda r: r.lines[0])
