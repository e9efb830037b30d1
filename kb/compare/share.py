"""The Compare tab's shareable URL: ``?tab=compare&topic=…&left=…&right=…``, and absolute links.

Kept free of gradio so the round trip is tested in milliseconds; the tab reads the
query string on page load and writes it after each comparison. A link that leaves the
page (pasted into an e-mail, a CSV cell opened in Excel) must be absolute: a bare
``?tab=compare…`` means nothing there, so :func:`absolute` puts the app's address in
front — ``KB_PUBLIC_URL`` when set (the address people use, behind a proxy), else the
address the request came to.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from kb.errors import KbError
from kb.ingest.corpus import KUMAMOTO, KURUME

TAB = "compare"
_LIMIT = 200


class PublicUrlError(KbError, ValueError):
    """The configured public address cannot start a link."""


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


def absolute(query: str, base: str) -> str:
    """``base`` + ``query`` (``?q=…``): an address that opens the same view from anywhere;
    unchanged when no base is known (a relative link still works inside the page)."""
    if not base:
        return query
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PublicUrlError(f"KB_PUBLIC_URL is not an http(s) address: {base!r}; set it like https://kb.example.org/")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, query.lstrip("?"), ""))


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
