"""The source view: a hit's section in the original plan, with line numbers.

Works from ``corpus/`` alone (parsing one document takes milliseconds), so
``kb show`` and the app's source panel need neither the index nor the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kb.chunk import Chunk, chunk_document
from kb.errors import SourceError
from kb.ingest.corpus import CorpusError, Document, load_corpus

ADDRESS_RE = re.compile(r"^(?P<doc>[^:]+):(?P<start>\d+)(?:-(?P<end>\d+))?$")




@dataclass(frozen=True)
class SourceView:
    doc: str
    title: str
    city: str
    metadata: dict[str, str]
    heading_path: tuple[str, ...]
    line_start: int
    line_end: int
    rows: list[tuple[int, str, bool]]


def parse_address(address: str) -> tuple[str, int, int]:
    match = ADDRESS_RE.match(address.strip())
    if not match:
        raise SourceError(f"address {address!r} is not DOC:LINE or DOC:START-END")
    start = int(match.group("start"))
    end = int(match.group("end") or start)
    if end < start:
        raise SourceError(f"address {address!r} ends before it starts")
    return match.group("doc"), start, end


def find_document(corpus: Path, doc: str) -> Document:
    try:
        documents = {d.doc: d for d in load_corpus(corpus)}
    except CorpusError as exc:
        raise SourceError(str(exc)) from None
    if doc not in documents:
        raise SourceError(f"unknown document {doc!r} (known: {', '.join(sorted(documents))})")
    return documents[doc]


def chunk_at(chunks: list[Chunk], line: int) -> Chunk | None:
    """The chunk owning ``line``, else the nearest chunk whose span contains or follows it."""
    for chunk in chunks:
        if line in chunk.lines:
            return chunk
    containing = [c for c in chunks if c.line_start <= line <= c.line_end]
    if containing:
        return min(containing, key=lambda c: c.line_end - c.line_start)
    after = [c for c in chunks if c.line_start >= line]
    return min(after, key=lambda c: c.line_start) if after else (chunks[-1] if chunks else None)


def source_view(corpus: Path, address: str, *, context: int = 3) -> SourceView:
    doc_name, start, end = parse_address(address)
    doc = find_document(Path(corpus), doc_name)
    if start > len(doc.lines):
        raise SourceError(f"{doc_name} has {len(doc.lines)} lines; line {start} does not exist")
    end = min(end, len(doc.lines))
    chunk = chunk_at(chunk_document(doc), start)
    section_start = min(start, chunk.line_start) if chunk else start
    section_end = max(end, chunk.line_end) if chunk else end
    first = max(1, section_start - context)
    last = min(len(doc.lines), section_end + context)
    rows = [(n, doc.line(n).rstrip(), start <= n <= end) for n in range(first, last + 1)]
    return SourceView(
        doc=doc.doc, title=doc.title, city=doc.city, metadata=doc.metadata,
        heading_path=chunk.heading_path if chunk else (), line_start=start, line_end=end, rows=rows,
    )
