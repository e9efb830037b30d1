"""What the MCP tools do, as plain functions returning JSON-ready dicts.

Each operation is the CLI's own composition of :mod:`kb.service`, :mod:`kb.present`,
:mod:`kb.sourceview`, :mod:`kb.compare` and :mod:`kb.kpi` (no second ranking or parsing
path), so an assistant gets the same hits, spans and KPIs as ``kb search --json``.
Nothing here imports the MCP SDK: errors a user can fix stay :class:`~kb.errors.KbError`
with the CLI's one-line message, and :mod:`kb.mcp.server` turns them into tool errors.

The index is opened once (and retried on the next call while it cannot be, so a server
started before ``kb build`` starts answering after it) and followed across rebuilds;
``show`` and the plan outlines need only the corpus, like ``kb show``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb.chunk import Chunk, chunk_document
from kb.errors import KbError, QueryError
from kb.follow import reopen
from kb.ingest.corpus import resolve_city
from kb.ingest.names import resolve_name, unknown_name_message
from kb.search.searcher import Filters, Hit, validate_query
from kb.service import Session, open_session

#: Most hits one ``search`` call returns (an assistant's context is the limit, not the index).
MAX_HITS = 50
#: Most KPI records one ``kpi`` call returns.
MAX_KPIS = 100
#: KPIs shown with each hit (as ``kb search`` prints them).
HIT_KPIS = 3
#: A heading longer than this is cut in a citation.
LABEL_CHARS = 40
#: Most passages one ``mentions`` call lists (the counts always cover them all).
MAX_PASSAGES = 200
#: Seconds between checks whether ``kb build`` swapped in a new index.
RELOAD_CHECK_S = 1.0

log = logging.getLogger(__name__)


def citation(city: str, title: str, heading_path: Sequence[str], doc: str, start: int, end: int) -> str:
    """``久留米市 <plan> <heading> (doc:start-end)``: what an assistant pastes after a claim.

    The span is the address ``kb show`` and the app's source view open, so a reader can check it.
    """
    label = heading_path[-1].strip() if heading_path else ""
    if len(label) > LABEL_CHARS:
        label = label[: LABEL_CHARS - 1] + "…"
    return " ".join(part for part in (city, title, label) if part) + f" ({doc}:{start}-{end})"


def outline_markdown(meta: dict[str, str], chunks: Sequence[Chunk]) -> str:
    """A plan's outline as nested Markdown bullets, each heading with the line it starts at.

    Built from the chunks' heading paths (the parser's outline), so every address in it
    opens with ``show``.
    """
    doc = meta.get("doc", "")
    lines = [f"# {meta.get('title', doc)}", ""]
    for key in ("city", "area", "kind", "period", "title_en"):
        if meta.get(key):
            lines.append(f"- {key}: {meta[key]}")
    lines += ["", "## Outline / 構成 (heading → first line; `show(doc, line)` opens it)", ""]
    printed: tuple[str, ...] = ()
    for chunk in sorted(chunks, key=lambda c: c.line_start):
        path = tuple(chunk.heading_path)
        shared = 0
        while shared < min(len(path), len(printed)) and path[shared] == printed[shared]:
            shared += 1
        for depth in range(shared, len(path)):
            leaf = f" [{chunk.kind}]" if depth == len(path) - 1 else ""
            lines.append(f"{'  ' * depth}- {path[depth]} ({doc}:{chunk.line_start}){leaf}")
        printed = path
    return "\n".join(lines) + "\n"


class Backend:
    """One open index and corpus, shared by every tool call of a server process."""

    def __init__(self, index: Path | str | None = None, corpus: Path | str | None = None,
                 model: str | None = None) -> None:
        self.index = index
        self.corpus = Path(corpus) if corpus else None
        self.model = model
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._checked_at = 0.0
        #: KPI lines per chunk id: matching a chunk to the KPI records costs ~1 ms (10 a search),
        #: and the same measures come back again and again. Bounded by the number of chunks.
        self._hit_kpis: dict[str, list[str]] = {}

    def session(self) -> Session:
        """The open index; a :class:`~kb.errors.KbError` (no index, wrong model) while there is none."""
        with self._lock:
            now = time.monotonic()
            if self._session is None:
                self._session = open_session(self.index, corpus_dir=self.corpus, model=self.model)
                self._checked_at = now
            elif now - self._checked_at >= RELOAD_CHECK_S:
                self._checked_at = now
                self._follow_rebuild(self._session)
            return self._session

    def _follow_rebuild(self, session: Session) -> None:
        """``kb build`` re-points ``index/current`` atomically; answer from the new build, as the app
        does (kb/ui/service.py), instead of reading chunks from a build that may be deleted. Should the
        new build not open, the old one keeps answering and the next check tries again."""
        from kb.index.storage import resolve_build
        from kb.service import index_dir

        try:
            target = resolve_build(index_dir(self.index))
        except (KbError, OSError):
            return
        if target == session.searcher.index.path:
            return
        try:  # the encoder, ranker and analysers stay loaded when the build's model is the same
            fresh = reopen(session, target, self.corpus, model=self.model)
        except KbError as exc:
            log.warning("kb mcp: could not switch to the rebuilt index %s: %s", target, exc)
            return
        self._session, self._hit_kpis = fresh, {}
        log.warning("kb mcp: switched to the rebuilt index %s", target)

    def preload(self) -> str:
        """Open the index now so the first call is fast; the reason it cannot be opened, else ''."""
        try:
            self.session()
        except KbError as exc:
            return str(exc)
        return ""

    def corpus_dir(self) -> Path:
        """``--corpus``, else the corpus the index was built from, else ``./corpus``."""
        if self.corpus is not None:
            return self.corpus
        if self._session is not None:
            return self._session.corpus_dir
        return Path("corpus")

    def documents(self) -> dict[str, dict[str, str]]:
        return dict(self.session().searcher.index.documents)

    def search(self, query: str, city: str | None = None, doc: str | None = None, kind: str | None = None,
               k: int = 10) -> dict[str, Any]:
        """``kb search --json`` plus a citation and the KPIs of each hit."""
        from kb.present import result_json

        if not 1 <= k <= MAX_HITS:
            raise QueryError(f"k must be between 1 and {MAX_HITS}, not {k}")
        validate_query(query)
        session = self.session()
        filters = Filters(city=city or None, doc=doc or None, kind=kind or None)
        session.searcher.check_filters(filters)
        result = session.searcher.search(query, k=k, filters=filters)
        out = result_json(result, session.page_span)
        for hit, row in zip(result.hits, out["hits"]):
            row["citation"] = citation(row["city"], row["title"], row["heading_path"], row["doc"],
                                       row["line_start"], row["line_end"])
            row["kpis"] = self._kpi_lines(session, hit)
        mentions = getattr(result, "mentions", None)
        if mentions:
            out["mentions"] = dict(mentions)
        if session.stale:
            out["warning"] = session.stale_warning()
        return out

    def _kpi_lines(self, session: Session, hit: Hit) -> list[str]:
        """The KPIs ``kb search`` prints under a hit (:meth:`Session.kpis_for`), remembered per chunk."""
        lines = self._hit_kpis.get(hit.chunk.id)
        if lines is None:
            lines = self._hit_kpis[hit.chunk.id] = [kpi.describe() for kpi in session.kpis_for(hit)[:HIT_KPIS]]
        return lines

    def show(self, doc: str, line: int, context: int = 3) -> dict[str, Any]:
        """``kb show DOC:LINE``: the section around a line, numbered, the asked line marked ``>``."""
        from kb.sourceview import source_view

        view = source_view(self.corpus_dir(), f"{doc}:{line}", context=context)
        rows = [f"{'>' if marked else ' '}{number:>5}  {text}" for number, text, marked in view.rows]
        first, last = view.rows[0][0], view.rows[-1][0]
        return {
            "doc": view.doc, "title": view.title, "city": view.city,
            "section": " > ".join(view.heading_path), "heading_path": list(view.heading_path),
            "line_start": first, "line_end": last,
            "citation": citation(view.city, view.title, view.heading_path, view.doc, first, last),
            "text": "\n".join(rows),
        }

    def compare(self, topic: str, left: str | None = None, right: str | None = None, k: int = 8) -> dict[str, Any]:
        """``kb compare TOPIC --json``: matched measures (rows), and what only one side does."""
        from kb.compare.align import LEFT, RIGHT, compare, resolve_side
        from kb.compare.render import comparison_json

        topic = validate_query(topic)
        session = self.session()
        documents = dict(session.searcher.index.documents)
        sides = [resolve_side(value, documents) if value else default for value, default in ((left, LEFT), (right, RIGHT))]
        comparison = compare(session.searcher, topic, left=sides[0], right=sides[1], kpis=session.kpis.records, k=k)
        out = comparison_json(comparison)
        for measure in _measures(out):
            measure["citation"] = citation(measure["city"], documents.get(measure["doc"], {}).get("title", ""),
                                           measure["heading_path"], measure["doc"], measure["line_start"],
                                           measure["line_end"])
        return out

    def mentions(self, terms: Sequence[str], city: str | None = None, doc: str | None = None,
                 kind: str | None = None, synonyms: bool = False, require_all: bool = False) -> dict[str, Any]:
        """``kb mentions TERM … --json``: every passage that mentions the terms, counts per plan, citations."""
        from kb.present_mentions import concordance_json
        from kb.search.concordance import corpus_lines, find_mentions, validate_terms

        wanted = validate_terms(terms)
        session = self.session()
        concordance = find_mentions(session.searcher, corpus_lines(session.corpus_dir), wanted,
                                    filters=Filters(city=city or None, doc=doc or None, kind=kind or None),
                                    synonyms=synonyms, require_all=require_all)
        out = concordance_json(concordance)
        out["truncated"] = len(out["passages"]) > MAX_PASSAGES
        out["passages"] = out["passages"][:MAX_PASSAGES]
        for row in out["passages"]:
            row["citation"] = citation(row["city"], row["title"], row["heading_path"], row["doc"],
                                       row["line_start"], row["line_end"])
        if session.stale:
            out["warning"] = session.stale_warning()
        return out

    def kpi(self, query: str | None = None, city: str | None = None, doc: str | None = None) -> dict[str, Any]:
        """``kb kpi [--query Q] [--city C] [--doc D] --json``: KPI records with their source lines."""
        from kb.kpi.extract import filter_kpis, load_kpis
        from kb.kpi.lookup import kpis_for_question
        from kb.kpi.scope import corpus_scope

        corpus = self.corpus_dir()
        city = resolve_city(city or None)
        scope = corpus_scope(corpus)  # as `kb kpi`: any city or plan the manifest lists
        if city and city not in scope.cities:
            raise QueryError(scope.unknown_city(city))
        documents = list(scope.documents)
        extraction = load_kpis(corpus)
        if doc:
            resolved = resolve_name(doc, documents)
            if resolved is None:
                raise QueryError(unknown_name_message(doc, documents))
            doc = resolved
        kpis = filter_kpis(extraction.kpis, city=city, doc=doc or None)
        out: dict[str, Any] = {}
        if query:
            query = validate_query(query)
            try:
                hits = self.session().searcher.search(query, k=30, filters=Filters(city=city, doc=doc or None)).hits
            except KbError as exc:  # as `kb kpi`: the records need only the corpus
                out["note"] = f"KPIs matched by name only (search unavailable: {exc})"
                hits = []
            kpis = kpis_for_question(kpis, query, [h.chunk for h in hits])
        records = []
        for kpi in kpis[:MAX_KPIS]:
            record = kpi.to_json()
            record["citation"] = citation(kpi.city, kpi.title, kpi.path, kpi.doc, kpi.line_start, kpi.line_end)
            records.append(record)
        return {"count": len(kpis), "truncated": len(kpis) > MAX_KPIS, "kpis": records} | out

    def list_plans(self) -> dict[str, Any]:
        """The plans in the index, with what a model needs to pick one (city, title, period)."""
        keys = ("doc", "title", "title_en", "city", "area", "municipality", "kind", "period")
        plans = [{key: meta.get(key, "") for key in keys} | {"resource": plan_uri(doc)}
                 for doc, meta in sorted(self.documents().items())]
        return {"plans": plans}

    def outline(self, doc: str) -> str:
        """The outline of one plan of the index (the ``kb://plan/{doc}`` resource)."""
        from urllib.parse import unquote

        from kb.sourceview import find_document

        documents = self.documents()
        resolved = resolve_name(unquote(doc), documents)
        if resolved is None:
            raise QueryError(unknown_name_message(doc, documents))
        return outline_markdown(documents[resolved], chunk_document(find_document(self.corpus_dir(), resolved)))


def plan_uri(doc: str) -> str:
    """``kb://plan/<doc>``, the name percent-encoded (a plan named in Japanese or with a space is still a URI)."""
    from urllib.parse import quote

    return f"kb://plan/{quote(doc, safe='')}"


def _measures(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Every measure dict of a ``comparison_json``, wherever it sits, to add citations to."""
    out = [*comparison["left_measures"], *comparison["right_measures"], *comparison["only_left"],
           *comparison["only_right"]]
    for row in comparison["rows"]:
        out.append(row["measure"])
        out += [c["measure"] for c in row["counterparts"]]
    return out
