"""``kb add``: one plan as before, or many (files, or folders of them) with a single rebuild.

Registered on :data:`kb.cli.main.app` by ``main`` (where the command used to be, so ``kb --help``
lists the commands in the same order); this module imports nothing from ``main``, so
``python -m kb.cli.main add`` registers it on the one app that runs. One file keeps the
single-plan output and exit codes; several files, or a folder, get a progress display over
the files and then the rebuild's stages, and end with a summary table, one row a file.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from kb.ingest.add import PlanInfo
    from kb.service import BulkAddReport

# The same --corpus and --index as every other command's (kb/cli/main.py).
CorpusOption = Annotated[Path, typer.Option("--corpus", help="Folder with the plan texts and manifest.toml.")]
IndexOption = Annotated[Path | None, typer.Option("--index", help="Index folder (default: ./index or $KB_INDEX).")]

#: Exit codes of a bulk add: every file added, some refused, none added.
ALL_ADDED, SOME_REFUSED, NONE_ADDED = 0, 1, 2


def summary_table(report: BulkAddReport) -> Table:
    """One row a file: the plan it became with its pages, goals, measures and KPIs, or why it was refused."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None, show_lines=False)
    for name in ("file", "plan", "pages", "goals", "measures", "KPIs", "result"):
        numbers = name in ("pages", "goals", "measures", "KPIs")
        table.add_column(name, justify="right" if numbers else "left", overflow="fold")
    for row in report.files:
        if row.added:
            cells = [row.doc, "" if row.pages is None else str(row.pages), str(row.goals), str(row.measures),
                     "?" if row.kpis is None else str(row.kpis), "added"]
        else:
            cells = ["", "", "", "", "", f"refused: {row.error}"]
        table.add_row(*(Text(cell) for cell in [row.source.name, *cells]))  # Text: names are not rich markup
    return table


def bulk_exit_code(report: BulkAddReport) -> int:
    """0 when every file was added, 1 when some were refused, 2 when none was added."""
    if not report.added:
        return NONE_ADDED
    return SOME_REFUSED if report.refused else ALL_ADDED


def _progress_display() -> tuple[Console, AbstractContextManager[object], Callable[[str, int, int], None]]:
    """stderr, and a rich bar on a terminal (or with KB_PROGRESS=1), plain lines in a log or pipe."""
    from rich.console import Console

    from kb.cli.progress import build_progress
    from kb.config import settings

    console = Console(stderr=True)
    display, progress = build_progress(console, forced=settings().progress)
    return console, display, progress


def _bulk(paths: list[Path], info: PlanInfo, recursive: bool, corpus: Path, index: Path | None) -> int:
    from rich.console import Console

    from kb import service
    from kb.ingest.bulk import collect_sources

    files = collect_sources(paths, recursive=recursive)
    console, display, progress = _progress_display()
    with display:
        report = service.add_plans(files, corpus, index, info=info, progress=progress,
                                   say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    Console(highlight=False).print(summary_table(report))
    added, total = len(report.added), len(report.files)
    if report.build is None:
        typer.echo(f"nothing added: all {total} files were refused (see the table); corpus and index are unchanged")
    else:
        refused = f"; {total - added} refused (see the table)" if added < total else ""
        typer.echo(f"added {added} of {total} plans{refused}")
        typer.echo(f"index: {report.build.chunk_count} chunks; embedded {report.build.embedded}, "
                   f"reused {report.build.reused} unchanged (one rebuild)")
    return bulk_exit_code(report)


def add(
    paths: Annotated[list[Path], typer.Argument(help="Plan files (.txt, .pdf, .html/.htm) or folders of them.",
                                                show_default=False)],
    title: Annotated[str | None, typer.Option(help="Plan title (default: the file's own title); one file only.")] = None,
    city: Annotated[str | None, typer.Option(help="Municipality, e.g. 久留米市 (what --city filters by); "
                                                  "with several files, for all of them.")] = None,
    kind: Annotated[str | None, typer.Option(help="Kind of plan, e.g. 総合計画 (several files: for all).")] = None,
    period: Annotated[str | None, typer.Option(help="Plan period, e.g. 2026-2030 (several files: for all).")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also add the plans in a folder's subfolders.")] = False,
    corpus: CorpusOption = Path("corpus"),
    index: IndexOption = None,
) -> None:
    """Add plans to the corpus (originals kept in corpus/sources/) and rebuild the index incrementally, once.

    \b
    kb add plan.pdf --title "…" --city ○○市     one plan, as always
    kb add plans/ --city ○○市                   every .pdf/.txt/.html/.htm in the folder, sorted by name
    kb add a.pdf b.pdf c.html                   several files

    Each of several files is converted and checked on its own: one that cannot be added
    (unreadable or scanned PDF, no text, a name the corpus or the batch already has,
    unsupported type) is refused with its reason and the others go on. The accepted ones
    are installed together and indexed by one rebuild; if it fails, all of them are taken
    out again. --city, --kind and --period apply to every file; --title names one plan,
    so it is refused with several files (each takes the title in its own file). A table
    ends the run: per file its plan, pages, goals, measures and KPIs, or why it was
    refused. Exit status: 0 all added, 1 some refused, 2 none added (or a bad option).
    """
    from kb import service
    from kb.ingest.add import PlanInfo

    info = PlanInfo(title=title or "", city=city or "", kind=kind or "", period=period or "")
    if len(paths) > 1 or paths[0].is_dir():
        raise typer.Exit(_bulk(paths, info, recursive, corpus, index))
    console, bar, progress = _progress_display()
    with bar:
        report = service.add_plan(paths[0], corpus, index, info=info, progress=progress, say=console.print)
    pages = f", {report.pages} pages" if report.pages else ""
    typer.echo(f"added {report.doc}: {report.lines} lines{pages} → {corpus / (report.doc + '.txt')}")
    typer.echo(f"  {report.structure}")
    typer.echo(f"index: {report.build.chunk_count} chunks; embedded {report.build.embedded}, "
               f"reused {report.build.reused} unchanged")
