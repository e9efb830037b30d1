"""Read one printed KPI figure: value, unit and year, in the spellings plans use.

Plans no family parser knows print a baseline or a target as 「35人（2024年度）」,
「令和6年度 45.2％」, 「R6：1,200件」, 「約3.5億円（令和12年度末）」, 「7,000人以上」 or a
qualitative 「増加」「維持」. :func:`parse_amount` turns one such fragment into an
:class:`Amount` with the value and year *as printed* (width-folded), so a planner can
trust them; :func:`kb.kpi.extract.number` and :func:`kb.kpi.extract.year_ad` read them
as numbers later. A fragment that is anything more (a sentence, two figures) is not an
amount: the caller reports the line instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.ingest.parse.common import fold_width

#: An era or Western year, with 年/年度/年度末 where the plan prints it: 令和6年度, R6, H30(2018),
#: 令和12(2030)年度末, 2024年度. A bare "2030" is a value, not a year, unless it stands in brackets.
YEAR = (r"(?:(?:令和|平成|R|H)\s*(?:\d{1,2}|元)(?:\s*\(\s*\d{4}\s*\))?\s*(?:年度末|年度|年末|年)?"
        r"|(?:19|20)\d{2}\s*(?:年度末|年度|年末|年))")
_YEAR_RE = re.compile(rf"(?<![\dA-Za-z.,]){YEAR}(?:\s*(?:時点|実績|見込み?|末))?")
#: A bracketed year, possibly with a word: (2024年度), (R6), (令和6年度実績), (2024).
_PAREN_YEAR_RE = re.compile(rf"\(\s*(?P<inner>[^()]*?(?:{YEAR}|(?<!\d)(?:19|20)\d{{2}}(?!\d))[^()]*?)\s*\)")
#: Words a plan writes instead of a number for a direction it aims at.
QUALITATIVE = ("現状維持", "増加", "減少", "維持", "向上", "上昇", "低下", "拡大", "縮小", "改善", "削減", "継続")
_QUALITATIVE_RE = re.compile(rf"^(?P<word>{'|'.join(QUALITATIVE)})(?:させる|させます|する|します|を目指す|を図る)?$")
_VALUE_RE = re.compile(
    r"^(?P<approx>約)?\s*(?P<value>[-−△▲]?\d[\d,]*(?:\.\d+)?(?:万\d+千)?)\s*"
    r"(?P<unit>[^\s\d()→をにはがでとの。、]{0,8}?)\s*(?P<limit>以上|以下|未満)?$"
)
#: Printed in a cell or after a marker when the plan has no figure ("―", "-", "—").
MISSING = frozenset("―—-－ー")


@dataclass(frozen=True)
class Amount:
    """One figure as printed: value ``None`` means the plan prints a dash there."""

    value: str | None
    unit: str = ""
    year: str = ""

    @property
    def qualitative(self) -> bool:
        return self.value is not None and not any(c.isdigit() for c in self.value)


def year_label(text: str) -> str:
    """The year a fragment names, as printed without spaces ("令和6年度"), or ""."""
    return split_year(fold_width(text))[1]


def split_year(text: str) -> tuple[str, str]:
    """(the fragment without its year, the year): whichever year, bracketed or bare, comes first."""
    found = [m for m in (_PAREN_YEAR_RE.search(text), _YEAR_RE.search(text)) if m is not None]
    if not found:
        return text.strip(), ""
    first = min(found, key=lambda m: m.start())  # "H30(2018) 60.5": the era year, not its bracket
    label = first.group("inner") if first.re is _PAREN_YEAR_RE else first.group()
    return (text[: first.start()] + " " + text[first.end():]).strip(), label.replace(" ", "")


def parse_amount(text: str, default_year: str = "") -> Amount | None:
    """One printed figure with its unit and year, or None when ``text`` is not just that.

    The year may stand before or after the figure, bracketed or not; ``default_year``
    (from a table header such as 「基準値（R6）」) applies when the cell names none.
    """
    rest, year = split_year(fold_width(text).strip(" :、,"))
    rest = rest.strip(" :、,")
    year = year or default_year
    if rest and all(c in MISSING for c in rest.replace(" ", "")):
        return Amount(None, "", year)
    qualitative = _QUALITATIVE_RE.match(rest.replace(" ", ""))
    if qualitative:
        return Amount(qualitative.group("word"), "", year)
    match = _VALUE_RE.match(rest)
    if match is None:
        return None
    value = (match.group("approx") or "") + match.group("value").replace("−", "-") + (match.group("limit") or "")
    return Amount(value, match.group("unit"), year)
