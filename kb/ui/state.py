"""The app's state as a URL query string, so every view can be shared and reopened.

A planner copies the address bar into a mail or a report; opening it must show the same
search (query, filters, number of results) and, when one was open, the same source
passage. The state is therefore *only* what is in the URL: these functions turn one
into the other, and the decoder forgives anything a hand-edited or truncated link may
contain (unknown keys, bad numbers, an unknown city) instead of failing.

Parameters::

    q      the query text                     city   久留米市 | 熊本市 | 広域
    plan   document filter (doc name)         goal   goal filter (text)
    k      number of results (1..MAX_K)       doc    document of the open source view
    line   its lines: ``450`` or ``450-460``

``doc``/``line`` name the source view (the issue's ``?q=…&doc=…&line=…``); the document
*filter* is ``plan`` so that both can be set at once. ``doc`` and ``plan`` are any plan's
name (``子育て支援計画``, ``ＡＢＣ市 総合戦略``), percent-encoded in the URL: a name is valid
because the corpus has that plan (:mod:`kb.ingest.names`), not because of its characters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode

from kb.domain import ChunkKind, SourceSpan, resolve_kind
from kb.ingest.corpus import resolve_city
from kb.ingest.names import name_problem, resolve_name

DEFAULT_K = 10
MAX_K = 50
#: Longer URL queries are cut here; the search itself reports anything over its own limit.
MAX_URL_QUERY = 2000
_LINES = re.compile(r"^\s*(\d{1,7})\s*(?:[-–~]\s*(\d{1,7}))?\s*$")


@dataclass(frozen=True)
class UIState:
    """What the page shows: a search and, optionally, one open source passage."""

    q: str = ""
    city: str = ""
    plan: str = ""
    goal: str = ""
    k: int = DEFAULT_K
    #: Only chunks of this kind (measure, goal, kpi, paragraph); "" for all.
    kind: str = ""
    doc: str = ""
    lines: tuple[int, int] | None = None

    @property
    def has_source(self) -> bool:
        return bool(self.doc and self.lines)

    @property
    def address(self) -> str:
        """``doc:start-end``, the address :func:`kb.sourceview.source_view` takes."""
        if not self.lines:
            return ""
        return str(SourceSpan(self.doc, *self.lines))

    def without_source(self) -> UIState:
        return replace(self, doc="", lines=None)

    def with_source(self, doc: str, start: int, end: int) -> UIState:
        return replace(self, doc=doc, lines=(start, max(start, end)))


def clamp_k(value: object, default: int = DEFAULT_K) -> int:
    """A result count the page can show: an int in 1..MAX_K, ``default`` for garbage."""
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return default
    return max(1, min(MAX_K, number))


def parse_lines(value: str) -> tuple[int, int] | None:
    """``"450"`` → (450, 450); ``"450-460"`` → (450, 460); anything else → None."""
    match = _LINES.match(value or "")
    if not match:
        return None
    start = int(match.group(1))
    end = int(match.group(2) or start)
    if start < 1 or end < start:
        return None
    return start, end


def format_lines(lines: tuple[int, int]) -> str:
    start, end = lines
    return str(start) if start == end else f"{start}-{end}"


def encode_state(state: UIState) -> str:
    """``?q=…&city=…`` for the state, defaults left out; ``""`` for the empty state."""
    pairs: list[tuple[str, str]] = []
    if state.q:
        pairs.append(("q", state.q))
    if state.city:
        pairs.append(("city", state.city))
    if state.plan:
        pairs.append(("plan", state.plan))
    if state.goal:
        pairs.append(("goal", state.goal))
    if state.k != DEFAULT_K:
        pairs.append(("k", str(state.k)))
    if state.kind:
        pairs.append(("kind", state.kind))
    if state.doc and state.lines:
        pairs.append(("doc", state.doc))
        pairs.append(("line", format_lines(state.lines)))
    return "?" + urlencode(pairs) if pairs else ""


def document_name(value: str, documents: Collection[str] | None = None) -> str:
    """The plan a link's ``doc``/``plan`` value names, or ``""``.

    With the loaded ``documents`` the value is resolved to the plan's own name (``x.txt`` →
    ``x``) and an unknown one is dropped; without them only what can never be a plan's
    name (a path, control characters, too long) is.
    """
    name = value.strip()
    if documents is not None:
        return resolve_name(name, documents) or ""
    return name if name and name_problem(name) is None else ""


def decode_state(params: Mapping[str, str], documents: Collection[str] | None = None) -> UIState:
    """The state a URL's parameters describe; invalid parts fall back to their defaults.

    ``documents`` (the plans the app has) lets ``plan`` and ``doc`` be checked against the
    corpus; a ``doc`` it does not know is still kept when it could be a plan's name, so
    that the source panel can say the link is broken instead of showing nothing.
    """

    def get(key: str) -> str:
        value = params.get(key, "")
        return value if isinstance(value, str) else ""

    city = resolve_city(get("city")) or ""
    kind = resolve_kind(get("kind")) or ""
    plan = document_name(get("plan"), documents)
    doc = document_name(get("doc"), documents) or document_name(get("doc"))
    lines = parse_lines(get("line"))
    valid_doc = bool(doc) and lines is not None
    return UIState(
        q=get("q")[:MAX_URL_QUERY],
        # Any municipality a plan names (added plans bring new ones); the searcher refuses unknown ones.
        city=city if len(city) <= 40 and city.isprintable() else "",
        plan=plan,
        goal=get("goal").strip()[:200],
        k=clamp_k(get("k")) if get("k") else DEFAULT_K,
        kind=kind if kind in {k.value for k in ChunkKind} else "",
        doc=doc if valid_doc else "",
        lines=lines if valid_doc else None,
    )


def decode_query_string(query_string: str, documents: Collection[str] | None = None) -> UIState:
    """:func:`decode_state` of a raw ``?a=b&c=d`` string (the first value of a key wins)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query_string.lstrip("?"), keep_blank_values=True):
        params.setdefault(key, value)
    return decode_state(params, documents)
