"""Which PDF page each line of a corpus text came from (the ``<stem>.pages.json`` sidecar).

A planner cites a PDF by page, but kb addresses text by line; ``kb add`` of a PDF keeps
the page of every line it writes so a hit can say 「p. 12–13」 next to its lines. The
sidecar lives next to the original in ``corpus/sources/`` and is only read, never needed:
documents without one simply have no pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SOURCES = "sources"
PAGES_SUFFIX = ".pages.json"


def pages_path(corpus_dir: Path, doc: str) -> Path:
    return Path(corpus_dir) / SOURCES / f"{doc}{PAGES_SUFFIX}"


@dataclass(frozen=True)
class PageMap:
    """``pages[i]`` is the 1-based PDF page of line ``i + 1`` of the corpus text."""

    source: str
    pages: tuple[int, ...]

    def span(self, line_start: int, line_end: int) -> tuple[int, int] | None:
        """First and last page of a 1-based inclusive line span (None outside the map)."""
        inside = [p for p in self.pages[max(0, line_start - 1) : line_end] if p > 0]
        return (inside[0], inside[-1]) if inside else None

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "pages": list(self.pages)}


def write_pages(path: Path, pages: PageMap) -> None:
    path.write_text(json.dumps(pages.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")


def read_pages(corpus_dir: Path, doc: str) -> PageMap | None:
    """The page map of ``doc``, or None when it has none (or the file is unreadable)."""
    try:
        raw = json.loads(pages_path(corpus_dir, doc).read_text(encoding="utf-8"))
        return PageMap(source=str(raw["source"]), pages=tuple(int(p) for p in raw["pages"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
