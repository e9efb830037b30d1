"""The Compare tab's shareable URL: ``?tab=compare&topic=…&left=…&right=…``.

Kept free of gradio so the round trip is tested in milliseconds; the tab reads the
query string on page load and writes it after each comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from kb.ingest.corpus import KUMAMOTO, KURUME

TAB = "compare"
_LIMIT = 200


@dataclass(frozen=True)
class CompareState:
    """What a shared comparison link carries: the topic and the two sides' keys."""

    topic: str = ""
    left: str = KURUME
    right: str = KUMAMOTO


def encode(state: CompareState) -> str:
    """``?tab=compare&topic=…&left=…&right=…`` (sides always written: a link must not
    change meaning when the defaults do)."""
    return "?" + urlencode([("tab", TAB), ("topic", state.topic), ("left", state.left), ("right", state.right)])


def decode(query: str) -> CompareState | None:
    """The state of a ``?tab=compare…`` query string, None for other tabs; overlong or
    unprintable values fall back to the defaults."""
    params = parse_qs(query.lstrip("?"), keep_blank_values=True)
    if params.get("tab", [""])[0] != TAB:
        return None

    def value(name: str, default: str) -> str:
        text = params.get(name, [default])[0].strip()
        return text if text and len(text) <= _LIMIT and text.isprintable() else default

    return CompareState(topic=value("topic", ""), left=value("left", KURUME), right=value("right", KUMAMOTO))
