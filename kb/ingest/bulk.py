"""Adding many plans at once: which files, each staged on its own, and what each one became.

Twenty PDFs used to take twenty ``kb add`` commands and twenty rebuilds. A batch stages
every file separately in one :class:`~kb.ingest.add.Staging` (a file that cannot be added
is refused with its reason and costs only itself), installs the accepted ones as one
journalled change and leaves a single rebuild to the caller (:func:`kb.service.add_plans`).
This module only decides and describes; it never touches the real corpus itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.errors import DISK_FULL_ERRNOS, KbError
from kb.ingest.add import SUPPORTED, AddError, PlanInfo, StagedPlan, Staging
from kb.ingest.parse.model import GOAL, MEASURE

log = logging.getLogger(__name__)

#: Progress stage name of the per-file staging (the rebuild's stages follow it).
FILES_STAGE = "files"


@dataclass(frozen=True)
class FileOutcome:
    """One file of a batch: the plan it became, with what its outline holds, or why it was refused.

    ``kpis`` is None when the KPI extraction failed on the plan: the count decorates the
    summary, and a fault there must not refuse an otherwise good plan.
    """

    source: Path
    doc: str = ""
    lines: int = 0
    pages: int | None = None
    goals: int = 0
    measures: int = 0
    kpis: int | None = 0
    error: str = ""

    @property
    def added(self) -> bool:
        return not self.error


def collect_sources(paths: Sequence[Path], *, recursive: bool = False) -> list[Path]:
    """The files a batch adds: files as given, each folder's .txt/.pdf/.html/.htm files sorted by name.

    A folder contributes only the types kb can add (anything else in it is not a plan
    meant for kb: skipped, not refused); a file named explicitly is kept whatever its type,
    so it is refused with a reason instead of vanishing. Hidden files are skipped, a file
    named twice is added once, and a folder with nothing to add is an error that says so.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            inside = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in SUPPORTED
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                deeper = "" if recursive else " (add --recursive for its subfolders)"
                raise AddError(f"{path}: no .txt, .pdf, .html or .htm files in it{deeper}")
            found.extend(inside)
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def outline_counts(plan: StagedPlan) -> tuple[int, int]:
    """Goals and measures the parser found in a staged plan (headed sections of each kind)."""
    kinds = [str(s.kind) for s in plan.parsed.sections if s.heading]
    return kinds.count(GOAL), kinds.count(MEASURE)


def kpi_count(plan: StagedPlan) -> int | None:
    """How many KPI records :func:`kb.kpi.extract.extract_document` finds in the plan (None if it failed)."""
    from kb.kpi.extract import extract_document

    try:
        return len(extract_document(plan.document, plan.parsed).kpis)
    except Exception:  # a summary figure: the plan itself loaded and parsed
        log.exception("KPI extraction failed on %s", plan.name)
        return None


def _reason(exc: BaseException) -> str:
    """One line for a refused file: kb's own message, or what the operating system said."""
    if isinstance(exc, KbError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({Path(exc.filename).name})" if exc.filename else ""
        return f"{exc.strerror or exc.__class__.__name__}{where}"
    return f"unexpected {exc.__class__.__name__}: {exc}"


def stage_each(
    batch: Staging,
    sources: Iterable[Path],
    info: PlanInfo,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    refused: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Stage every file on its own; a refusal is recorded with its reason and the next file goes on.

    Any exception short of an interrupt (or a full disk, which stops the batch) refuses only
    its file: staging writes to the copy, never to the corpus, and :meth:`Staging.stage` puts
    the copy back when a file fails.
    """
    files = list(sources)
    outcomes: list[FileOutcome] = []
    if progress:
        progress(FILES_STAGE, 0, len(files))
    for done, source in enumerate(files, start=1):
        try:
            plan = batch.stage(source, info)
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
                raise  # not this file's fault: every later file would fail the same way
            if not isinstance(exc, (KbError, OSError)):
                log.exception("staging %s failed", source)
            # The summary names the file in its own column: no need to repeat it in front of the reason.
            outcome = FileOutcome(source, error=_reason(exc).removeprefix(f"{source.name}: "))
            if refused:
                refused(outcome)
        else:
            goals, measures = outline_counts(plan)
            outcome = FileOutcome(source, plan.name, len(plan.document.lines), plan.pages, goals, measures,
                                  kpi_count(plan))
        outcomes.append(outcome)
        if progress:
            progress(FILES_STAGE, done, len(files))
    return outcomes


__all__ = ["FILES_STAGE", "FileOutcome", "collect_sources", "kpi_count", "outline_counts", "stage_each"]
