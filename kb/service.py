"""The one service under the CLI and the app: open an index, build one, decorate hits.

Both front ends call these functions and nothing else to get a searcher, build an
index, find the KPIs of a hit and choose the words to highlight, so ``kb search`` and
the web page cannot drift apart. This is also the one place that decides which model
to load (the one that built the index) and refuses any other.

Errors a user can fix are :class:`~kb.errors.KbError`; :data:`KNOWN_ERRORS` is what
the front ends turn into one line (CLI) or a message on the page (app).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kb.analysis.lemmas import JapaneseAnalyzer
from kb.chunk import Chunk
from kb.config import settings
from kb.embed.protocol import Embedder
from kb.errors import CorpusError, IndexUnavailable, KbError, WorkersUnavailable
from kb.index.build import BuildReport, Progress
from kb.ingest.pages import PageMap, read_pages
from kb.kpi.extract import Kpi, kpis_for_chunk, load_kpis
from kb.present import highlight_terms
from kb.search.searcher import Hit, SearchConfig, Searcher, SearchResult

if TYPE_CHECKING:
    from kb.embed.parallel import DaskEmbedder
    from kb.ingest.add import CorpusChange, PlanInfo
    from kb.ingest.bulk import FileOutcome
    from kb.rank.model import LearnedRanker

log = logging.getLogger(__name__)

#: Everything the front ends report as a plain message instead of a traceback.
KNOWN_ERRORS: tuple[type[BaseException], ...] = (KbError,)

Say = Callable[[str], None]


def index_dir(value: Path | str | None) -> Path:
    """The index folder: ``--index``, else ``$KB_INDEX``, else ``./index``."""
    return Path(value) if value else settings().index


def requested_model(value: str | None) -> str | None:
    """The model a user asked for: ``--model`` first, then ``$KB_MODEL``, else none."""
    return value or settings().model or None


def open_searcher(
    index: Path | str | None = None,
    *,
    model: str | None = None,
    dense: bool = True,
    config: SearchConfig | None = None,
    ranker: str | None = None,
    rank_features: bool = False,
) -> Searcher:
    """Load the index and (unless ``dense`` is False) the model that built it.

    ``model`` is what the user asked for (``--model`` / ``$KB_MODEL``); when given
    it must equal the index's model, because vectors of two models are not
    comparable and mixing them would return confident nonsense.
    """
    from kb.embed.sentence import query_embedder
    from kb.index.storage import check_model, load_index, read_manifest

    folder = index_dir(index)
    _, manifest = read_manifest(folder)
    wanted = requested_model(model)
    check_model(manifest, wanted)
    loaded = load_index(folder, model=wanted)
    # Queries only: the torch-free ONNX export of the index's model when there is one.
    embedder = query_embedder(loaded.model) if dense else None
    dimension = manifest.model.dimension
    if embedder is not None and embedder.dimension != dimension:
        raise IndexUnavailable(
            f"model {loaded.model!r} now gives {embedder.dimension}-d vectors, the index has {dimension}-d: run `kb build`"
        )
    # The second encoder only where the index has its vectors and the fusion gives it weight.
    use_embedder = None
    if dense and loaded.use_dense is not None and (config or SearchConfig()).use_weight > 0:
        from kb.embed.use import UseEmbedder

        use_embedder = UseEmbedder()
    learned = load_ranker(ranker) if dense else None
    if ranker is None:  # the user's choice (KB_RANKER); evaluation code names its model explicitly
        check_ranker(manifest.ranker, learned)
    return Searcher(loaded, embedder, config=config, use_embedder=use_embedder, ranker=learned,
                    rank_features=rank_features)


def load_ranker(choice: str | None = None) -> LearnedRanker | None:
    """The ranker a user chose (``KB_RANKER``): the shipped model, ``formula`` (none), or a model file."""
    from kb.rank.model import LearnedRanker, model_path

    path = model_path(choice or settings().ranker)
    return LearnedRanker.load(path) if path is not None else None


def check_ranker(recorded: str, ranker: LearnedRanker | None) -> None:
    """An index is queried with the ranker it was built (and evaluated) for, or explicitly
    with the formula (``KB_RANKER=formula``); never silently with another model."""
    if ranker is not None and recorded != ranker.id:
        raise IndexUnavailable(
            f"index was built for ranker {recorded or 'unknown'!r}, this kb ranks with {ranker.id!r}: run `kb build` "
            "(or set KB_RANKER=formula)"
        )


def build(
    corpus: Path | str,
    index: Path | str | None = None,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    say: Say | None = None,
    second_encoder: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    device: str = "auto",
) -> BuildReport:
    """``kb build``: :func:`_build` holding the corpus lock, like every add and remove.

    Without the lock a build could read the corpus halfway through another process's
    ``kb add`` (a plan's text in, its manifest entry not yet) and swap in an index of a corpus
    that never existed; and a change a killed add/remove left behind is finished or undone
    first (:func:`kb.ingest.intent.exclusive`), so the build is of a corpus that is whole.
    """
    import functools
    import os

    from kb.ingest.intent import exclusive

    run = functools.partial(_build, corpus, index, model=model, embedder=embedder, progress=progress, say=say,
                            second_encoder=second_encoder, workers=workers, scheduler=scheduler, device=device)
    if not os.access(Path(corpus).resolve().parent, os.W_OK):
        return run()  # nobody here can change a corpus in a read-only folder, nor make its lock file
    with exclusive(Path(corpus), say):
        return run()


def _build(
    corpus: Path | str,
    index: Path | str | None = None,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    say: Say | None = None,
    second_encoder: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    device: str = "auto",
) -> BuildReport:
    """Parse, chunk, embed and write the index; then make sure queries can start fast.

    The caller holds the corpus lock (:func:`build`, or an add/remove inside its own).

    A bad corpus fails before the model loads (seconds instead of a minute). ``embedder``
    defaults to ``model`` (or the built-in e5-small-q4) loaded lazily, so a rebuild
    with nothing new to embed never starts torch. ``workers > 1`` or a Dask
    ``scheduler`` address embeds on Dask workers (:mod:`kb.embed.parallel`), closed
    when the build ends; ``device`` is ``auto`` (CUDA when torch sees a GPU), ``cpu`` or
    ``cuda``.
    """
    from contextlib import ExitStack

    from kb.embed.sentence import SentenceEmbedder, check_device, ensure_query_encoder
    from kb.embed.tuned import tuned_model_name
    from kb.index.build import build_index
    from kb.ingest.corpus import load_corpus

    if workers < 1:
        raise WorkersUnavailable(f"--workers must be at least 1, not {workers}")
    check_device(device)
    load_corpus(Path(corpus))
    name = requested_model(model) or tuned_model_name()
    on_workers = embedder is None and (workers > 1 or scheduler is not None)
    with ExitStack() as stack:  # the Dask cluster closes here, also on an error or Ctrl-C
        if on_workers:
            embedder = stack.enter_context(_dask_embedder(name, workers, scheduler, device, say))
        elif embedder is None:
            if say:
                say(f"loading model {name} …")
            embedder = SentenceEmbedder(name, progress=say, lazy=True, device=device)
        assert embedder is not None
        report = build_index(Path(corpus), index_dir(index), embedder, progress=progress,
                             second_encoder=second_encoder)
    if on_workers:  # the query encoder is exported here, from a model loaded only if needed
        embedder = SentenceEmbedder(name, progress=say, lazy=True, device="cpu")
    if isinstance(embedder, SentenceEmbedder):
        # Once per model: the torch-free ONNX query encoder that `kb search` starts with.
        ensure_query_encoder(embedder, progress=say)
    return report


def _dask_embedder(name: str, workers: int, scheduler: str | None, device: str, say: Say | None) -> DaskEmbedder:
    """:class:`kb.embed.parallel.DaskEmbedder`, or how to install Dask when it is missing."""
    try:
        from kb.embed.parallel import DaskEmbedder
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("dask", "distributed"):
            raise
        raise WorkersUnavailable(f"kb build --workers/--scheduler needs Dask distributed ({exc}): "
                                 "pip install 'kb[workers]' (or pip install 'dask[distributed]')") from None
    return DaskEmbedder(name, workers=workers, scheduler=scheduler, device=device, say=say)


@dataclass(frozen=True)
class KpiCatalogue:
    """The plans' structured KPI records, read once, and which of them a hit shows.

    Empty (with ``problem`` saying why) when the corpus the index was built from is not
    at hand: KPIs decorate results, and their absence must not stop a search.
    """

    records: tuple[Kpi, ...] = ()
    problem: str = ""

    @classmethod
    def load(cls, corpus_dir: Path | str) -> KpiCatalogue:
        folder = Path(corpus_dir)
        if not folder.is_dir():
            return cls(problem=f"no corpus folder at {folder}")
        try:
            return cls(tuple(load_kpis(folder).kpis))
        except (CorpusError, OSError, UnicodeDecodeError) as exc:
            log.warning("KPIs unavailable: %s", exc)
            return cls(problem=str(exc))

    def for_chunk(self, chunk: Chunk) -> list[Kpi]:
        return kpis_for_chunk(chunk, self.records) if self.records else []


@dataclass
class Session:
    """An open index with what the front ends show around its hits."""

    searcher: Searcher
    corpus_dir: Path
    kpis: KpiCatalogue = field(default_factory=KpiCatalogue)
    stale: list[str] = field(default_factory=list)
    _pages: dict[str, PageMap | None] = field(default_factory=dict, repr=False)

    def page_span(self, hit: Hit) -> tuple[int, int] | None:
        """First and last PDF page of a hit, for documents added from a PDF (else None)."""
        doc = hit.chunk.doc
        if doc not in self._pages:
            self._pages[doc] = read_pages(self.corpus_dir, doc)
        pages = self._pages[doc]
        return pages.span(hit.line_start, hit.line_end) if pages is not None else None

    @property
    def analyzer(self) -> JapaneseAnalyzer:
        return self.searcher.analyzer

    @property
    def chunks(self) -> Sequence[Chunk]:
        return self.searcher.chunks

    def kpis_for(self, hit: Hit) -> list[Kpi]:
        return self.kpis.for_chunk(hit.chunk)

    def highlight_terms(self, result: SearchResult) -> list[str]:
        return highlight_terms(result, self.searcher.analyzer)

    def stale_warning(self) -> str:
        """The one-line warning for an index older than its corpus; empty when current."""
        if not self.stale:
            return ""
        return f"corpus changed since the index was built ({', '.join(self.stale)}); run `kb build`"


def open_session(
    index: Path | str | None = None,
    *,
    corpus_dir: Path | str | None = None,
    model: str | None = None,
    dense: bool = True,
    config: SearchConfig | None = None,
) -> Session:
    """:func:`open_searcher` plus the corpus around it: stale check and KPI records.

    The corpus is the one given, else the one the index was built from.
    """
    searcher = open_searcher(index, model=model, dense=dense, config=config)
    return session_for(searcher, corpus_dir)


def session_for(searcher: Searcher, corpus_dir: Path | str | None = None) -> Session:
    """A :class:`Session` around a searcher that is already open."""
    corpus = Path(corpus_dir) if corpus_dir else Path(searcher.index.manifest.corpus_dir)
    try:
        stale = searcher.index.stale_documents(corpus)
    except OSError as exc:
        log.warning("cannot check %s for changes: %s", corpus, exc)
        stale = []
    return Session(searcher=searcher, corpus_dir=corpus, kpis=KpiCatalogue.load(corpus), stale=stale)


def _index_model(index: Path | str | None) -> str | None:
    """The model of the existing index, so an add re-embeds nothing it already has."""
    from kb.index.storage import read_manifest

    try:
        return read_manifest(index_dir(index))[1].model.name
    except (IndexUnavailable, OSError, ValueError):
        return None


@dataclass(frozen=True)
class AddReport:
    """What ``kb add`` did: the new document, its size, and the rebuild."""

    doc: str
    lines: int
    pages: int | None
    structure: str
    build: BuildReport


def add_plan(
    source: Path | str,
    corpus: Path | str = "corpus",
    index: Path | str | None = None,
    *,
    info: PlanInfo | None = None,
    stem: str | None = None,
    model: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    say: Say | None = None,
) -> AddReport:
    """Add a .txt/.pdf/.html plan to the corpus and rebuild the index incrementally.

    The corpus change is staged and checked first (:func:`kb.ingest.add.add_to_corpus`);
    if the rebuild then fails, the corpus is put back as it was, and the index was never
    touched because a build only replaces it atomically at its very end. The whole add
    holds the corpus lock (:func:`kb.ingest.intent.exclusive`): a second add waits, and
    its rebuild then includes this plan; a change a killed add/remove left is finished
    or undone first.
    """
    from kb.ingest.add import PlanInfo, add_to_corpus
    from kb.ingest.corpus import load_corpus
    from kb.ingest.intent import exclusive

    corpus_dir = Path(corpus)
    with exclusive(corpus_dir, say) as recovered:
        _rebuild_if_stale(recovered, corpus_dir, index, model=model, embedder=embedder, progress=progress, say=say)
        change, name = add_to_corpus(corpus_dir, Path(source), info or PlanInfo(), stem=stem)
        report = _rebuild_or_roll_back(change, corpus_dir, index, model=model, embedder=embedder,
                                       progress=progress, say=say)
        doc = next(d for d in load_corpus(corpus_dir) if d.doc == name)
        pages = read_pages(corpus_dir, name)
    return AddReport(doc=name, lines=len(doc.lines), pages=max(pages.pages) if pages else None,
                     structure=doc.structure, build=report)


#: Why a title is refused for several files (each plan of a batch takes its own from its file).
ONE_TITLE = ("a title names one plan: give it only when adding one file (each of several plans takes its title "
             "from its own file; city, kind and period apply to all of them)")


@dataclass(frozen=True)
class BulkAddReport:
    """What a bulk add did: every file's outcome in the order given, and the one rebuild (None: nothing added)."""

    files: tuple[FileOutcome, ...]
    build: BuildReport | None

    @property
    def added(self) -> list[FileOutcome]:
        return [f for f in self.files if f.added]

    @property
    def refused(self) -> list[FileOutcome]:
        return [f for f in self.files if not f.added]


def add_plans(
    sources: Sequence[Path | str],
    corpus: Path | str = "corpus",
    index: Path | str | None = None,
    *,
    info: PlanInfo | None = None,
    model: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    say: Say | None = None,
) -> BulkAddReport:
    """Add several plans with one rebuild: each file staged on its own, the accepted ones installed together.

    A file that cannot be added is refused with its reason (in the report) and the others
    go on. The accepted files are one corpus change under one intent journal, so a failed
    rebuild (or a kill, undone by the next add/remove) takes all of them back out: the
    corpus and manifest are then byte for byte as before. ``info`` (city, kind, period)
    applies to every plan; a title only to a batch of one (:data:`ONE_TITLE`). ``progress``
    gets the ``files`` stage, then the rebuild's; ``say`` each refusal as it happens.
    """
    from kb.ingest.add import AddError, PlanInfo, staging
    from kb.ingest.bulk import stage_each
    from kb.ingest.intent import exclusive

    info = info or PlanInfo()
    files = [Path(source) for source in sources]
    if not files:
        raise AddError("no files to add: name a plan file or a folder of them")
    if info.title and len(files) > 1:
        raise AddError(ONE_TITLE)
    corpus_dir = Path(corpus)

    def tell(outcome: FileOutcome) -> None:
        if say:
            say(f"refused {outcome.source.name}: {outcome.error}")

    with exclusive(corpus_dir, say) as recovered:
        _rebuild_if_stale(recovered, corpus_dir, index, model=model, embedder=embedder, progress=progress, say=say)
        with staging(corpus_dir) as batch:
            outcomes = stage_each(batch, files, info, progress=progress, refused=tell)
            change = batch.install() if batch.plans else None
        report = None if change is None else _rebuild_or_roll_back(
            change, corpus_dir, index, model=model, embedder=embedder, progress=progress, say=say)
    return BulkAddReport(tuple(outcomes), report)


def remove_plan(
    stem: str,
    corpus: Path | str = "corpus",
    index: Path | str | None = None,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    say: Say | None = None,
) -> BuildReport:
    """Take a plan the manifest lists out of the corpus and rebuild; a failed rebuild puts it back."""
    from kb.ingest.add import remove_from_corpus
    from kb.ingest.intent import exclusive

    corpus_dir = Path(corpus)
    with exclusive(corpus_dir, say) as recovered:
        _rebuild_if_stale(recovered, corpus_dir, index, model=model, embedder=embedder, progress=progress, say=say)
        change = remove_from_corpus(corpus_dir, stem)
        return _rebuild_or_roll_back(change, corpus_dir, index, model=model, embedder=embedder,
                                     progress=progress, say=say)


def _rebuild_if_stale(
    recovered: str,
    corpus: Path,
    index: Path | str | None,
    *,
    model: str | None,
    embedder: Embedder | None,
    progress: Progress | None,
    say: Say | None,
) -> None:
    """After undoing a killed change, rebuild if its index had already been swapped in.

    A kill between the swap and the commit leaves an index of the changed corpus; once
    the corpus is put back it would serve a plan that is gone (or miss one that is back).
    """
    from kb.index.storage import read_manifest
    from kb.ingest.corpus import corpus_files, sha256_file

    if not recovered:
        return
    try:
        recorded = read_manifest(index_dir(index))[1].corpus
    except (IndexUnavailable, OSError, ValueError):
        return  # no index to correct
    if recorded == {path.name: sha256_file(path) for path in corpus_files(corpus)}:
        return
    if embedder is None and model is None:
        model = _index_model(index)
    _build(corpus, index, model=model, embedder=embedder, progress=progress, say=say)


def _rebuild_or_roll_back(
    change: CorpusChange,
    corpus: Path,
    index: Path | str | None,
    *,
    model: str | None,
    embedder: Embedder | None,
    progress: Progress | None,
    say: Say | None,
) -> BuildReport:
    """Rebuild with the index's own model after a corpus change; undo the change if it fails.

    ``commit`` marks the change done in its journal before it deletes what was set aside, so
    a kill from then on finishes the change; a kill before it is undone by the next add/remove
    (which rebuilds if this build had already been swapped in).
    """
    try:
        if embedder is None and model is None:
            model = _index_model(index)
        report = _build(corpus, index, model=model, embedder=embedder, progress=progress, say=say)
    except BaseException:
        change.rollback()
        raise
    change.commit()
    return report
