"""What the page's events do, without gradio: search, show a source, answer the API.

:class:`SearchService` owns the one :class:`~kb.search.searcher.Searcher` of the process (created
by ``app.py``, passed in) and turns a :class:`~kb.ui.state.UIState` into the HTML the
page shows. It never ranks anything itself. Every method returns a message instead of
raising, because an exception in a Gradio handler becomes an "Error" toast (or a
traceback in the logs the user cannot read); the page must always say what to do next.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from kb.chunk import Chunk
from kb.compare.share import absolute
from kb.embed.protocol import Embedder
from kb.errors import CorpusError, IndexUnavailable, QueryError, SourceError
from kb.follow import reopen
from kb.index.build import Progress
from kb.index.storage import resolve_build
from kb.ingest.corpus import CITY_CHOICES, load_corpus
from kb.kpi.extract import Kpi
from kb.present import result_json, results_csv
from kb.search.concordance import corpus_lines
from kb.search.searcher import Filters, Hit, Searcher, SearchResult
from kb.service import KNOWN_ERRORS, Session, build, index_dir, open_session, session_for
from kb.sourceview import source_view
from kb.ui import labels as L
from kb.ui import render
from kb.ui.guard import LOOPBACK, AllowedHosts
from kb.ui.mentions_html import search_link_html
from kb.ui.render import DocInfo
from kb.ui.state import MAX_K, UIState, clamp_k, encode_state

log = logging.getLogger(__name__)

#: Source view context: lines shown before and after the section of a hit.
SOURCE_CONTEXT = 4
#: Events that call the searcher share this Gradio queue slot. The tokenisers are shared
#: under a lock (tokenising is ~1 ms of a search), and FAISS, numpy and onnxruntime release
#: the GIL, so a few searches run at once and both cores serve them.
SEARCH_QUEUE = "kb-search"
SEARCH_CONCURRENCY = 4
#: The largest plan the 計画を追加 / Add a plan panel (and Gradio's upload route) accepts.
MAX_ADD_BYTES = 50 * 1024 * 1024
#: How often (seconds) a request checks whether a build (``kb build``, ``kb add``, ``kb remove``, from
#: any process) swapped in a new index: a few stat calls, so often enough to follow within a second.
RELOAD_CHECK_S = 0.25
#: How long the request that notices a new build waits for it to load (well under a second: the
#: index is memory-mapped and the loaded query encoder kept, :func:`reopen`; a changed corpus's KPIs
#: are read again, ~0.3 s), so that it already answers from the new plans; past this it answers
#: from the old build and the next request gets the new one.
RELOAD_WAIT_S = 1.5
#: A build that could not be opened is tried again after this long, not by every request.
RELOAD_RETRY_S = 5.0
#: CSV files older than this are removed from the app's download folder.
CSV_MAX_AGE_S = 3600.0
GOAL_LABEL_CHARS = 46


class GoalRow(NamedTuple):
    """One distinct (goal, city, area, plan) of the index, in plan order: the goal filter's choices."""

    goal: str
    city: str
    area: str
    doc: str


@dataclass(frozen=True)
class SearchView:
    """Everything one search puts on the page."""

    state: UIState
    status_html: str
    results_html: str
    csv_path: Path | None = None
    result: SearchResult | None = None


def _shorten(text: str, limit: int = GOAL_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SearchService:
    """The search page's behaviour over one searcher (or none yet: the index is missing)."""

    def __init__(
        self,
        session: Session | Searcher | None,
        corpus_dir: Path | str = "corpus",
        *,
        index_dir: Path | str | None = None,
        unavailable: str | None = None,
        workdir: Path | None = None,
        opener: Callable[[Path], Session] | None = None,
    ) -> None:
        self.corpus_dir = Path(corpus_dir)
        if isinstance(session, Searcher):
            session = session_for(session, self.corpus_dir)
        self.session = session
        self.index_dir = Path(index_dir) if index_dir else None
        self.unavailable = unavailable if session is None else None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="kb-ui-"))
        self._goals: list[GoalRow] = []
        self._documents: list[DocInfo] = []
        #: How a (re)built index is opened; tests pass a light stand-in.
        self.opener = opener or self._reopen
        self._reload_lock = threading.Lock()
        #: The names the add-a-plan panel answers to (``launch`` sets the bound address).
        self.allowed_hosts = AllowedHosts()
        self._checked_at = 0.0
        self._loader: threading.Thread | None = None
        #: The last build that failed to open, and when: not retried before RELOAD_RETRY_S.
        self._failed: tuple[Path, float] | None = None
        self._load_catalogue()

    def close(self) -> None:
        """Remove the download folder (CSV files); called when the app stops."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- following rebuilds ------------------------------------------------------------

    def current(self) -> Session | None:
        """The session to answer this request with, after noticing a rebuilt index.

        A build re-points ``index/current`` atomically (``kb build``, ``kb add``, ``kb remove``,
        another app's add panel: any process). The app notices within :data:`RELOAD_CHECK_S`
        and loads the new build on a background thread; the request that noticed waits up to
        :data:`RELOAD_WAIT_S` for it, so an added or removed plan shows in its answer, while
        other requests keep being answered from the old build. The swap is one attribute
        assignment (catalogue first), so a request sees either the old session or the new,
        never a mix.
        """
        self._notice_rebuild()
        return self.session

    def _notice_rebuild(self) -> None:
        session, folder = self.session, self.index_dir
        now = time.monotonic()
        if folder is None or now - self._checked_at < RELOAD_CHECK_S:
            return
        self._checked_at = now
        try:
            target = resolve_build(folder)
        except (IndexUnavailable, OSError):
            return  # nothing (valid) to switch to: keep answering from what is loaded
        # With no session yet (the app started before any index), a `kb build` run elsewhere is picked up too.
        if session is not None and target == session.searcher.index.path:
            return
        if self._failed is not None and self._failed[0] == target and now - self._failed[1] < RELOAD_RETRY_S:
            return
        with self._reload_lock:
            loader = self._loader
            if loader is None or not loader.is_alive():
                loader = threading.Thread(target=self._reload, args=(target,), name="kb-index-reload", daemon=True)
                self._loader = loader
                loader.start()
        loader.join(RELOAD_WAIT_S)

    def _reopen(self, folder: Path) -> Session:
        """The rebuilt index with what is already loaded (:func:`reopen`), else from scratch."""
        if self.session is None:
            return open_session(folder, corpus_dir=self.corpus_dir)
        return reopen(self.session, folder, self.corpus_dir)

    def _reload(self, target: Path) -> None:
        try:
            fresh = self.opener(target)
        except Exception as exc:  # noqa: BLE001 - the old index keeps answering; the log says why
            log.warning("kb app: could not switch to the rebuilt index %s: %s", target, exc)
            # Tried again after RELOAD_RETRY_S: a build may have been caught half-swapped.
            self._failed = (target, time.monotonic())
            return
        try:
            fresh.searcher.search(WARMUP_QUERY, k=1)  # the first request after the swap stays fast
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs the next user time
            log.info("warm-up of the rebuilt index failed: %s", exc)
        # The catalogue first: a request that sees the new session also sees its plans.
        self._load_catalogue(fresh)
        self.session = fresh
        self.unavailable = None
        log.warning("kb app: switched to the rebuilt index %s (%d passages)", fresh.searcher.index.path,
                    len(fresh.chunks))

    @property
    def searcher(self) -> Searcher | None:
        return self.session.searcher if self.session is not None else None

    @property
    def stale(self) -> list[str]:
        return self.session.stale if self.session is not None else []

    @property
    def kpi_records(self) -> Sequence[Kpi]:
        return self.session.kpis.records if self.session is not None else ()

    # -- what there is to search -------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.session is not None

    def _load_catalogue(self, session: Session | None = None) -> None:
        """Documents and goals for the filters: from the index's columns (no record is read
        but each plan's first), or from the corpus if there is no index yet."""
        metadata: dict[str, dict[str, str]] = {}
        session = session or self.session
        plans: list[tuple[Chunk, int]] = []
        if session is not None:
            columns = session.searcher.columns
            plans = [(session.chunks[first], count) for first, count, _ in columns.distinct(("doc",))]
            self._goals = [GoalRow(*values) for _, _, values in columns.distinct(("goal", "city", "area", "doc"))]
            metadata = dict(session.searcher.index.documents)
        else:
            try:
                from kb.chunk import chunk_corpus

                documents = load_corpus(self.corpus_dir)
                chunks = chunk_corpus(documents)
                metadata = {d.doc: d.metadata for d in documents}
            except CorpusError as exc:
                self.unavailable = f"{self.unavailable or ''} ({exc})".strip()
                chunks = []
            counts: dict[str, int] = {}
            first: dict[str, Chunk] = {}
            for chunk in chunks:
                counts[chunk.doc] = counts.get(chunk.doc, 0) + 1
                first.setdefault(chunk.doc, chunk)
            plans = [(c, counts[doc]) for doc, c in first.items()]
            self._goals = list(dict.fromkeys(GoalRow(c.goal, c.city, c.area, c.doc) for c in chunks))
        self._documents = [
            DocInfo(doc=c.doc, title=metadata.get(c.doc, {}).get("title") or c.title,
                    city=metadata.get(c.doc, {}).get("city") or c.city,
                    area=metadata.get(c.doc, {}).get("area") or c.area, passages=count)
            for c, count in plans
        ]

    @property
    def documents(self) -> list[DocInfo]:
        return list(self._documents)

    def document_names(self) -> list[str]:
        """The plans' names (``doc``), what a link's ``plan``/``doc`` is resolved against."""
        return [d.doc for d in self._documents]

    def city_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the city filter: 久留米市, 熊本市, 広域 first, then any other
        municipality an added plan brings."""
        known = {d.city for d in self._documents} | {d.area for d in self._documents if d.area}
        ordered = [c for c in CITY_CHOICES if c in known] + sorted(known - set(CITY_CHOICES))
        return [(L.ALL, "")] + [(c, c) for c in ordered]

    def document_choices(self, city: str = "") -> list[tuple[str, str]]:
        """(label, value) pairs for the plan filter; only the city's plans when one is chosen."""
        docs = [d for d in self._documents if not city or city in (d.city, d.area)]
        return [(L.ALL, "")] + [(f"{d.title}（{d.area or d.city}）", d.doc) for d in docs]

    def goal_choices(self, city: str = "", plan: str = "") -> list[tuple[str, str]]:
        """(label, value) pairs of the goals under the chosen city and plan, in plan order."""
        seen: dict[str, str] = {}
        for row in self._goals:
            if not row.goal or row.goal in seen:
                continue
            if city and city not in (row.city, row.area):
                continue
            if plan and row.doc != plan:
                continue
            prefix = "" if plan else f"{row.area if row.area != row.city else row.city}: "
            seen[row.goal] = prefix + _shorten(row.goal)
        return [(L.ALL, "")] + [(label, goal) for goal, label in seen.items()]

    def welcome_html(self) -> str:
        if not self.ready:
            return self.no_index_html()
        return render.welcome_html(self._documents)

    def no_index_html(self) -> str:
        detail = L.NO_INDEX_HINT + (f'<div class="kb-muted">{render.esc(self.unavailable)}</div>'
                                    if self.unavailable else "")
        return render.message_html(L.NO_INDEX, detail, kind="warning", detail_is_html=True)

    def notice_html(self) -> str:
        """A banner for a stale index (plans edited since the build); empty when all is well."""
        if self.stale:
            return f'<div class="kb-banner">{L.STALE_INDEX} ({render.esc(", ".join(self.stale))})</div>'
        return ""

    # -- searching ---------------------------------------------------------------

    def kpis_for(self, hit: Hit) -> list[Kpi]:
        return self.session.kpis_for(hit) if self.session is not None else []

    def search(self, state: UIState, base_url: str = "") -> SearchView:
        """Run the state's search; messages instead of exceptions for anything that fails.

        A source passage in ``state`` stays in it (the page reopened from a shared URL
        shows both); a new search from the page passes a state without one.
        """
        session = self.current()
        if session is None:
            return SearchView(state, "", self.no_index_html())
        filters = Filters(city=state.city or None, doc=state.plan or None, goal=state.goal or None,
                          kind=state.kind or None)
        started = time.perf_counter()
        try:
            result = session.searcher.search(state.q, k=clamp_k(state.k), filters=filters)
        except QueryError as exc:
            # The address bar follows the failed query too (not the previous one).
            return SearchView(state, "", render.results_root(state, render.query_error_html(str(exc))))
        except Exception:  # the page shows a message, the log keeps the traceback
            log.exception("search failed for %r", state)
            return SearchView(state, "", render.message_html(L.INTERNAL_ERROR, L.INTERNAL_HINT, kind="error"))
        seconds = time.perf_counter() - started
        terms = session.highlight_terms(result)
        state = replace(state, q=result.query, k=clamp_k(state.k))
        return SearchView(
            state=state,
            status_html=render.status_html(result, seconds) + search_link_html(  # the rare-term link (issue 25)
                session.searcher, corpus_lines(session.corpus_dir), result.query, result.mentions, state.city,
                state.plan, state.kind),
            results_html=render.results_html(result, terms, state, session.kpis_for, session.page_span),
            csv_path=self.write_csv(result, state, session, base_url) if result.hits else None,
            result=result,
        )

    def write_csv(self, result: SearchResult, state: UIState | None = None, session: Session | None = None,
                  base_url: str = "") -> Path:
        """The results as a UTF-8-with-BOM CSV file (Excel reads the Japanese correctly),
        named after the query, with the query, filters, link (absolute from ``base_url``) and KPIs in every row."""
        from kb.compare.render import slug

        self._prune_downloads()
        self.workdir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="csv-", dir=self.workdir))
        path = folder / f"kb-{slug(result.query, 40)}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        filters = {"city": state.city, "plan": state.plan, "goal": state.goal, "kind": state.kind} if state else {}
        link = absolute(encode_state(state.without_source()) or "?", base_url) if state else ""
        path.write_bytes(results_csv(result, filters=filters, link=link,
                                     kpis=session.kpis_for if session is not None else None))
        return path

    def _prune_downloads(self) -> None:
        cutoff = time.time() - CSV_MAX_AGE_S
        for old in self.workdir.glob("csv-*/*.csv"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
                    old.parent.rmdir()
            except OSError:
                continue

    # -- the source view ------------------------------------------------------------

    def source(self, state: UIState) -> str:
        """The open passage of ``state`` in its plan, or the hint when none is open."""
        if not state.has_source:
            return render.source_placeholder_html()
        try:
            view = source_view(self.corpus_dir, state.address, context=SOURCE_CONTEXT)
        except SourceError as exc:
            log.info("source view refused for %s: %s", state.address, exc)
            return render.message_html(L.CANNOT_SHOW, L.BROKEN_LINK, kind="warning")
        except Exception:
            log.exception("source view failed for %s", state.address)
            return render.message_html(L.CANNOT_SHOW, L.INTERNAL_HINT, kind="error")
        # The permalink names the plan as the corpus does, however the link spelled it.
        return render.source_html(view, replace(state, doc=view.doc))

    # -- the JSON API ------------------------------------------------------------------

    def api_search(self, query: str, city: str = "", doc: str = "", goal: str = "", k: object = 10) -> dict:
        """The JSON contract of :func:`kb.present.result_json`, or ``{"error": …, "hits": []}``."""
        session = self.current()
        if session is None:
            return {"query": query, "error": self.unavailable or "the index is not built", "hits": []}
        if not all(isinstance(v, str | None) for v in (query, city, doc, goal)):
            return {"query": None, "error": "query, city, doc and goal must be text", "hits": []}
        filters = Filters(city=city or None, doc=doc or None, goal=goal or None)
        if isinstance(k, bool) or not isinstance(k, int | float | str) or (isinstance(k, float) and not math.isfinite(k)):
            return {"query": query, "error": "k must be a whole number", "hits": []}
        try:
            count = int(k)
        except (TypeError, ValueError, OverflowError):
            return {"query": query, "error": "k must be a whole number", "hits": []}
        if not 1 <= count <= max(MAX_K, 200):
            return {"query": query, "error": f"k must be between 1 and {max(MAX_K, 200)}", "hits": []}
        try:
            return result_json(session.searcher.search(query or "", k=count, filters=filters), session.page_span)
        except QueryError as exc:
            return {"query": query, "error": str(exc), "hits": []}
        except Exception as exc:
            log.exception("api search failed for %r", query)
            return {"query": query, "error": f"internal error ({exc.__class__.__name__})", "hits": []}

    # -- building the index from the page ---------------------------------------------

    def build_index(
        self,
        progress: Progress | None = None,
        *,
        embedder: Embedder | None = None,
        opener: Callable[[Path], Session] | None = None,
    ) -> str:
        """Build the index into ``index_dir``, start searching it, and say so (HTML).

        ``embedder`` and ``opener`` default to the real model and
        :func:`kb.service.open_session`; tests pass light stand-ins.
        """
        target = index_dir(self.index_dir)
        try:
            build(self.corpus_dir, target, embedder=embedder, progress=progress)
            self.session = (opener or self.opener)(target)
        except Exception as exc:  # shown on the page; the log has the traceback
            log.exception("index build from the app failed")
            return render.message_html(L.INTERNAL_ERROR, f"{exc.__class__.__name__}: {exc}", kind="error")
        self.unavailable = None
        self._load_catalogue()
        return render.message_html(L.BUILD_DONE, L.BUILD_DONE_HINT, kind="info")

    # -- adding a plan from the page -----------------------------------------------------

    def add_plan(
        self,
        upload: Path | str | Sequence[Path | str] | None,
        *,
        title: str = "",
        city: str = "",
        kind: str = "",
        period: str = "",
        progress: Progress | None = None,
        embedder: Embedder | None = None,
        client_host: str | None = "127.0.0.1",
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Add uploaded PDF/HTML/TXT plans (one or several) to the corpus and the index (HTML message).

        Only from the machine itself (``client_host`` loopback): adding a plan writes into
        the corpus folder, which a colleague across the network must not be able to do.
        ``headers`` (those of the HTTP request, when there is one) must name this app by an
        allowed host (:mod:`kb.ui.guard`: no DNS rebinding). Several files are one batch
        (:func:`kb.service.add_plans`): each refused on its own, the rest added with one
        rebuild; the answer is a table, one row a file. The rebuilt index is picked up by
        :meth:`current` like any ``kb build``.
        """
        from kb.ingest.add import PlanInfo
        from kb.service import add_plans
        from kb.ui.add_summary import panel_refusals, summary_html

        if client_host not in LOOPBACK:
            return render.message_html(L.ADD_REFUSED, L.ADD_REFUSED_HINT, kind="warning")
        if headers is not None and self.allowed_hosts.problem(headers, client_host):
            log.warning("add refused: %s", self.allowed_hosts.problem(headers, client_host))
            return render.message_html(L.ADD_REFUSED, L.ADD_REFUSED_HOST, kind="warning")
        uploads = [upload] if isinstance(upload, (str, Path)) else [u for u in upload or () if u]
        files = list(dict.fromkeys(Path(u) for u in uploads))  # one row a file, even if sent twice
        if not files:
            return render.message_html(L.ADD_FAILED, L.ADD_NO_FILE, kind="warning")
        if title.strip() and len(files) > 1:
            return render.message_html(L.ADD_FAILED, L.ADD_TITLE_ONE, kind="warning")
        checked = panel_refusals(files, MAX_ADD_BYTES)  # the panel's own limits: refused here, the others go on
        accepted = [source for source in files if source not in checked]
        info = PlanInfo(title=title.strip(), city=city.strip(), kind=kind.strip(), period=period.strip())
        build_report = None
        if accepted:
            try:
                report = add_plans(accepted, self.corpus_dir, index_dir(self.index_dir), info=info,
                                   embedder=embedder, progress=progress)
            except KNOWN_ERRORS as exc:
                return render.message_html(L.ADD_FAILED, str(exc), kind="warning")
            except Exception as exc:  # shown on the page; the log has the traceback
                log.exception("adding plans from the app failed")
                return render.message_html(L.INTERNAL_ERROR, f"{exc.__class__.__name__}: {exc}", kind="error")
            checked.update((row.source, row) for row in report.files)
            build_report = report.build
        if build_report is not None:
            self._checked_at = 0.0
            self.current()  # start loading the new build now
        return summary_html([checked[source] for source in files], build_report)


#: A query run once at startup so the first user's search is as fast as the rest.
WARMUP_QUERY = "子育て支援"


def open_service(
    index: Path | str | None, corpus_dir: Path | str = "corpus", *, log: Callable[[str], None] = print
) -> SearchService:
    """Load the index and model once for the process (and warm them up); never raises for a
    missing or unusable index: the service then carries the reason and the page shows it."""
    folder = index_dir(index)
    started = time.perf_counter()
    try:
        session = open_session(folder, corpus_dir=corpus_dir)
    except KNOWN_ERRORS as exc:
        log(f"kb app: no usable index in {folder}: {exc}")
        log("kb app: build it with `kb build` (or ./run.sh), or from the page")
        return SearchService(None, corpus_dir, index_dir=folder, unavailable=str(exc))
    try:
        session.searcher.search(WARMUP_QUERY, k=1)
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs the first user time
        log(f"kb app: warm-up search failed ({exc.__class__.__name__}: {exc})")
    log(f"kb app: index {folder} with {len(session.chunks)} passages loaded in {time.perf_counter() - started:.1f} s")
    return SearchService(session, corpus_dir, index_dir=folder)
