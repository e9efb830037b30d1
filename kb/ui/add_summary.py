"""The add panel's per-file work around :func:`kb.service.add_plans` (no gradio here): its own
limits checked file by file, and its answer, a boxed verdict over a table with one row a file.

The same facts as the summary table of ``kb add`` with several files: the plan each file
became, its pages, goals, measures and KPIs, or why it was refused, so staff who drop in
twenty PDFs see at once which ones need another look.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kb.index.build import BuildReport
from kb.ingest.add import SUPPORTED
from kb.ingest.bulk import FileOutcome
from kb.ui import labels as L
from kb.ui import render

#: The table's class: an answer holding it tried the files (the panel then clears its form).
TABLE_CLASS = "kb-add-summary"


def panel_refusals(files: Sequence[Path], max_bytes: int) -> dict[Path, FileOutcome]:
    """The uploads the panel refuses itself (type, missing, over its size limit), each with its reason.

    Checked per file, like everything else in a batch: one oversized PDF must not cost the others.
    """
    refused = {}
    for source in files:
        if source.suffix.lower() not in SUPPORTED:
            refused[source] = FileOutcome(source, error=L.ADD_TYPES)
        elif not source.is_file():
            refused[source] = FileOutcome(source, error=L.ADD_NO_FILE)
        elif source.stat().st_size > max_bytes:
            refused[source] = FileOutcome(source, error=L.ADD_TOO_BIG)
    return refused


def _cells(row: FileOutcome) -> list[str]:
    if not row.added:
        return [row.source.name, "", "", "", "", "", f"{L.ADD_ROW_REFUSED}: {row.error}"]
    return [row.source.name, row.doc, "" if row.pages is None else str(row.pages), str(row.goals), str(row.measures),
            "?" if row.kpis is None else str(row.kpis), L.ADD_ROW_ADDED]


def table_html(rows: Sequence[FileOutcome]) -> str:
    """The per-file table; refused rows carry ``kb-add-refused`` so the page can tell them apart."""
    head = "".join(f"<th>{render.esc(name)}</th>" for name in L.ADD_COLUMNS)
    body = "".join(
        f'<tr class="{"kb-add-added" if row.added else "kb-add-refused"}">'
        + "".join(f"<td>{render.esc(cell)}</td>" for cell in _cells(row)) + "</tr>"
        for row in rows
    )
    return f'<table class="{TABLE_CLASS}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def summary_html(rows: Sequence[FileOutcome], build: BuildReport | None) -> str:
    """Verdict (all added, some, none) with the table, and the rebuild's figures when there was one."""
    added = sum(row.added for row in rows)
    if added == len(rows):
        title, kind = L.ADD_DONE, "info"
    else:
        title, kind = (L.ADD_SOME, "warning") if added else (L.ADD_FAILED, "warning")
    detail = table_html(rows)
    if build is not None:
        figures = L.ADD_INDEX.format(chunks=build.chunk_count, embedded=build.embedded, reused=build.reused)
        detail += f"<p>{render.esc(figures)}</p>"
    return render.message_html(title, detail, kind=kind, detail_is_html=True)


def is_summary(answer: str) -> bool:
    """Whether an add answer is a per-file summary (files were tried), not a refusal of the whole request.

    A refusal (another computer, no file, a title for several files) keeps the form filled
    so it can be corrected; after a summary the form is cleared for the next batch.
    """
    return f'<table class="{TABLE_CLASS}">' in answer
