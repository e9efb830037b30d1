"""The source view: a hit's section in the original plan, with line numbers.

Works from ``corpus/`` alone (parsing one document takes milliseconds), so
``kb show`` and the app's source panel need neither the index nor the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.chunk import Chunk, chunk_document
from kb.domain import SourceSpan
from kb.errors import SourceError
from kb.ingest.corpus import CorpusError, Document, load_corpus
from kb.ingest.names import resolve_name, unknown_name_message


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


def parse_address(address: str) -> SourceSpan:
    """``DOC:LINE`` or ``DOC:START-END``; DOC may be the file name as it is in corpus/
    (``kurume-sousei-senryaku-3.txt:476``) and may itself contain ``:``."""
    try:
        span = SourceSpan.parse(address)
    except ValueError:
        raise SourceError(
            f"address {address!r} is not DOC:LINE or DOC:START-END with lines from 1 "
            "(e.g. kurume-sousei-senryaku-3:450)"
        ) from None
    if span.doc.endswith(".txt"):
        span = SourceSpan(span.doc.removesuffix(".txt"), span.line_start, span.line_end)
    return span


def find_document(corpus: Path, doc: str) -> Document:
    """The plan ``doc`` names, spelled any way :func:`kb.ingest.names.resolve_name` accepts."""
    try:
        documents = {d.doc: d for d in load_corpus(corpus)}
    except CorpusError as exc:
        raise SourceError(str(exc)) from None
    name = resolve_name(doc, documents)
    if name is None:
        raise SourceError(unknown_name_message(doc, documents))
    return documents[name]


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
    if context < 0:
        raise SourceError(f"--context must be 0 or more lines, not {context}")
    span = parse_address(address)
    doc_name, start, end = span.doc, span.line_start, span.line_end
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
