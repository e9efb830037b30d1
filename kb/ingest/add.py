"""Add a plan to the corpus (or remove one) so that a failed attempt changes nothing.

``kb add PATH`` turns a .txt, .pdf or .html file into ``corpus/<stem>.txt``, keeps the
original in ``corpus/sources/`` (with the PDF's page map, :mod:`kb.ingest.pages`) and
appends its ``[[document]]`` entry to ``manifest.toml``. Everything is first written into
a staging folder next to the corpus and checked there (it loads with the rest of the
corpus and has text the parser keeps); only then are the files moved in, and
:class:`CorpusChange` can put the corpus back exactly as it was if the index rebuild
that follows fails. The index itself is only ever replaced atomically by the build.

The manifest is edited as TOML (:mod:`kb.ingest.manifest_edit`), and every change is
recorded in an intent journal before the corpus is touched (:mod:`kb.ingest.intent`), so
a killed add or remove is finished or undone by the next one. ``kb remove`` only ever
takes out a plan the manifest lists: the name is never joined to a path unchecked.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kb.errors import CorpusError
from kb.ingest.corpus import MANIFEST_NAME, Document, load_corpus
from kb.ingest.intent import Intent, stage_prefix, trash_prefix, write_atomic
from kb.ingest.manifest_edit import listed_files, render_entry, with_entry, without_entry
from kb.ingest.names import NEW_NAME_BYTES, name_problem, resolve_name, shown
from kb.ingest.pages import PAGES_SUFFIX, SOURCES, PageMap, write_pages

if TYPE_CHECKING:
    from kb.ingest.parse.model import ParsedDocument

__all__ = ["SUPPORTED", "AddError", "Converted", "CorpusChange", "PlanInfo", "StagedPlan", "Staging", "add_to_corpus",
           "convert", "manifest_entry", "remove_from_corpus", "staging", "stem_for", "with_entry", "without_entry"]

#: File types kb can add, by suffix.
SUPPORTED = {".txt": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}
#: Characters a document name may not contain: it is a file name and half of a DOC:LINE address.
_BAD_STEM = re.compile(r"[\s:/\\]")


class AddError(CorpusError):
    """A plan cannot be added or removed as asked (the message says why)."""


@dataclass(frozen=True)
class PlanInfo:
    """What ``manifest.toml`` records about a plan (see the entries already there)."""

    title: str = ""
    city: str = ""
    kind: str = ""
    period: str = ""
    prefecture: str = ""
    title_en: str = ""


@dataclass(frozen=True)
class Converted:
    """A source file as corpus text: its lines, their PDF pages (PDFs only) and a title."""

    lines: list[str]
    pages: list[int] | None = None
    title: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def stem_for(path: Path, stem: str | None = None) -> str:
    """The document name: the file name without its suffix, spaces made dashes."""
    name = (stem or path.stem).strip()
    name = re.sub(r"\s+", "-", name)
    if not name or name.startswith(".") or _BAD_STEM.search(name):
        raise AddError(f"{name!r} cannot be a document name (no ':', '/' or leading '.')")
    problem = name_problem(name, max_bytes=NEW_NAME_BYTES)  # over-long, control characters
    if problem:
        raise AddError(f"{shown(name)} cannot be a document name: {problem} (rename the file)")
    return unicodedata.normalize("NFC", name)  # one spelling on disk, whichever system named the file


def convert(path: Path) -> Converted:
    """Read a source file into corpus lines (one place that knows every input type)."""
    suffix = path.suffix.lower()
    kind = SUPPORTED.get(suffix)
    if kind is None:
        raise AddError(f"{path.name}: unsupported file type {suffix or '(none)'!r} (use .txt, .pdf, .html or .htm)")
    if not path.is_file():
        raise AddError(f"{path}: no such file")
    if kind == "pdf":
        from kb.ingest import pdf

        extracted = pdf.extract(path)
        return Converted(extracted.lines, extracted.pages, extracted.title)
    if kind == "html":
        from kb.ingest import webpage

        page = webpage.extract(path)
        return Converted(page.lines, None, page.title)
    from kb.ingest.corpus import decode_text, split_lines

    try:
        text = decode_text(path.read_bytes(), path.name)
    except CorpusError as exc:
        raise AddError(str(exc)) from None
    lines = list(split_lines(text))
    return Converted(lines, None, next((x.strip() for x in lines if x.strip()), ""))


def manifest_entry(stem: str, info: PlanInfo, *, source: str, structure: str) -> str:
    """The ``[[document]]`` block for a new plan, in the fields the existing entries use."""
    fields = {
        "file": f"{stem}.txt",
        "title": info.title,
        "title_en": info.title_en,
        "municipality": info.city,
        "prefecture": info.prefecture,
        "kind": info.kind,
        "period": info.period,
        "structure": structure,
        "source": source,
    }
    return render_entry({key: value for key, value in fields.items() if value})


def _known_stems(corpus_dir: Path) -> set[str]:
    return {p.stem.casefold() for p in corpus_dir.glob("*.txt")}


class CorpusChange(Intent):
    """Files moved into (or out of) the corpus, and how to put everything back.

    The journalled :class:`~kb.ingest.intent.Intent` under the names the service uses:
    ``rollback`` after a failed rebuild, ``commit`` after a good one.
    """

    def rollback(self) -> None:
        self.undo()

    def commit(self) -> None:
        self.finish()


@contextmanager
def _staging(corpus_dir: Path) -> Iterator[Path]:
    """A scratch folder on the corpus's own file system (so moves out of it are renames)."""
    folder = Path(tempfile.mkdtemp(prefix=stage_prefix(corpus_dir), dir=corpus_dir.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_manifest(corpus_dir: Path) -> bytes | None:
    path = corpus_dir / MANIFEST_NAME
    return path.read_bytes() if path.is_file() else None


def describe_outline(doc: Document, parsed: ParsedDocument | None = None) -> str:
    """The manifest's ``structure`` line for an added plan: what the parser found in it."""
    from collections import Counter

    from kb.ingest.parse import family_for

    family = family_for(doc)
    parsed = parsed or family.parse(doc)
    counts = Counter(str(s.kind) for s in parsed.sections if s.heading)
    found = ", ".join(f"{counts[k]} {k}" for k in ("goal", "measure", "kpi") if counts[k])
    return f"added with kb add; {family.FAMILY} outline: {found or 'no numbered headings'}"


@dataclass(frozen=True)
class StagedPlan:
    """A plan converted, checked and waiting in the staging folder to be installed."""

    source: Path
    name: str
    #: As it will load from the corpus (manifest entry included); ``parsed`` is its outline.
    document: Document
    parsed: ParsedDocument
    pages: int | None


class Staging:
    """A copy of the corpus beside it, into which plans are staged one at a time.

    Each :meth:`stage` is all or nothing: a file that cannot be converted or does not load
    with the others leaves the staged copy exactly as it was, so one bad file in a batch
    costs only itself. :meth:`install` then moves every staged plan into the real corpus
    under one intent journal and writes the manifest once: a batch is one change, undone or
    finished as a whole, like a single add. Open it with :func:`staging`.
    """

    def __init__(self, corpus_dir: Path, folder: Path) -> None:
        self.corpus_dir = corpus_dir
        self.manifest_before = _read_manifest(corpus_dir)
        self.corpus = folder / "corpus"
        shutil.copytree(corpus_dir, self.corpus, ignore=shutil.ignore_patterns(SOURCES))
        self.sources = folder / SOURCES
        self.sources.mkdir()
        self.plans: list[StagedPlan] = []
        #: Names in the corpus (files and manifest entries), casefolded: a new plan may take none of them.
        self._taken = _known_stems(corpus_dir) | {Path(f).stem.casefold() for f in self._listed()}

    def _listed(self) -> list[str]:
        try:
            return listed_files(_manifest_text(self.manifest_before)) if self.manifest_before else []
        except CorpusError:
            return []  # an unreadable manifest is refused when the first entry is added to it

    def stage(self, source: Path, info: PlanInfo, stem: str | None = None) -> StagedPlan:
        """Convert ``source`` and check it loads with the corpus and everything staged before it."""
        source = Path(source)
        name = stem_for(source, stem)
        if source.suffix.lower() not in SUPPORTED:
            convert(source)  # raises the unsupported-type error
        if name.casefold() in self._taken:
            raise AddError(f"a document named {name!r} is already in {self.corpus_dir}; `kb remove {name}` first, "
                           "or add the file under another name")
        earlier = next((p for p in self.plans if p.name.casefold() == name.casefold()), None)
        if earlier is not None:
            raise AddError(f"{source.name}: {earlier.source.name} of the same batch is already added as {earlier.name!r}; "
                           "rename one of the two files")
        converted = convert(source)
        if not any(x.strip() for x in converted.lines):
            raise AddError(f"{source.name}: no text to add")
        manifest = self.corpus / MANIFEST_NAME
        manifest_was = manifest.read_bytes() if manifest.is_file() else None
        text_path = self.corpus / f"{name}.txt"
        kept = [self.sources / f"{name}{source.suffix.lower()}", self.sources / f"{name}{PAGES_SUFFIX}"]
        try:
            plan = self._stage(source, name, converted, info, text_path, manifest_was)
        except BaseException:  # put the staged copy back as it was before this file
            text_path.unlink(missing_ok=True)
            for path in kept:
                path.unlink(missing_ok=True)
            if manifest_was is None:
                manifest.unlink(missing_ok=True)
            else:
                manifest.write_bytes(manifest_was)
            raise
        self.plans.append(plan)
        return plan

    def _stage(self, source: Path, name: str, converted: Converted, info: PlanInfo, text_path: Path,
               manifest_was: bytes | None) -> StagedPlan:
        from kb.ingest.parse import parse_document

        text_path.write_text(converted.text, encoding="utf-8")
        # Trial load: the new plan must load with the others and keep some text after parsing.
        documents = {d.doc: d for d in load_corpus(self.corpus)}
        if name not in documents:
            raise AddError(f"{source.name}: the converted text did not load as {name}.txt")
        parsed = parse_document(documents[name])
        if not any(s.lines for s in parsed.sections):
            raise AddError(f"{source.name}: no text to add (only blank lines, page numbers or headers)")
        kept_source = f"{SOURCES}/{name}{source.suffix.lower()}"
        entry = manifest_entry(name, replace(info, title=info.title or converted.title or name), source=kept_source,
                               structure=describe_outline(documents[name], parsed))
        manifest_new = with_entry(_manifest_text(manifest_was), entry)
        (self.corpus / MANIFEST_NAME).write_text(manifest_new, encoding="utf-8", newline="")
        # The manifest parses and lists an existing file; the plan as it will load, entry included.
        document = next(d for d in load_corpus(self.corpus) if d.doc == name)
        shutil.copy2(source, self.sources / Path(kept_source).name)
        if converted.pages is not None:
            write_pages(self.sources / f"{name}{PAGES_SUFFIX}", PageMap(kept_source, tuple(converted.pages)))
        return StagedPlan(source, name, document, parsed, max(converted.pages) if converted.pages else None)

    def install(self) -> CorpusChange:
        """Move every staged plan into the corpus, then the manifest: one journalled change.

        The journal is written first (every path this creates), new files next, the manifest
        last; any failure on the way undoes all of it.
        """
        if not self.plans:
            raise AddError("no plan was staged, so there is nothing to add")
        names = [plan.name for plan in self.plans]
        owner = {f"{p.name}{suffix}": p.name for p in self.plans for suffix in (".txt", PAGES_SUFFIX, p.source.suffix.lower())}
        sources = self.corpus_dir / SOURCES
        staged_files = sorted(self.sources.iterdir())
        moves = [(staged, sources / staged.name) for staged in staged_files]
        moves += [(self.corpus / f"{name}.txt", self.corpus_dir / f"{name}.txt") for name in names]
        for _, target in moves:
            if target.exists():
                raise AddError(f"{target} already exists; move it away or `kb remove {owner[target.name]}` first")
        manifest_new = (self.corpus / MANIFEST_NAME).read_bytes()
        change = CorpusChange(self.corpus_dir, "add", " ".join(names), self.manifest_before,
                              created=[target for _, target in moves])
        change.write()
        try:
            sources.mkdir(exist_ok=True)
            for staged, target in moves:
                os.replace(staged, target)
            write_atomic(self.corpus_dir / MANIFEST_NAME, manifest_new)
        except BaseException:
            change.rollback()
            raise
        return change


@contextmanager
def staging(corpus_dir: Path) -> Iterator[Staging]:
    """A :class:`Staging` of ``corpus_dir``; its folder is removed on leaving (installed files were moved out)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise AddError(f"corpus folder not found: {corpus_dir}")
    with _staging(corpus_dir) as folder:
        yield Staging(corpus_dir, folder)


def add_to_corpus(corpus_dir: Path, source: Path, info: PlanInfo, *, stem: str | None = None) -> tuple[CorpusChange, str]:
    """Convert ``source`` and install it in ``corpus_dir``; returns the change and the stem.

    Nothing in the corpus changes unless conversion and a trial load both succeed.
    The caller rebuilds the index and then commits or rolls back the change.
    """
    with staging(corpus_dir) as batch:
        plan = batch.stage(Path(source), info, stem)
        return batch.install(), plan.name


def _manifest_text(data: bytes | None) -> str:
    try:
        return (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise AddError(f"{MANIFEST_NAME} is not UTF-8 text: save it as UTF-8 first") from None


def plan_path(corpus_dir: Path, stem: str, manifest: bytes | None) -> Path:
    """``corpus/<name>.txt`` of the plan the manifest lists under ``stem``, else a refusal.

    ``stem`` comes from the command line (or a caller's string) and may be spelled as ``kb show``
    takes it (``name``, ``name.txt``, :func:`kb.ingest.names.spellings`). A name with a path in it
    (``../victim``, ``/abs/x``) or one that only happens to match a file must never decide
    what is deleted, so the path is built from the manifest's own ``file`` entry, a plain
    file name directly inside the corpus folder.
    """
    listed = [name for name in listed_files(_manifest_text(manifest)) if name.endswith(".txt")] if manifest else []
    known = [name.removesuffix(".txt") for name in listed]
    name = resolve_name(stem, known)
    if name is None:
        problem = name_problem(stem)
        raise AddError(f"no document named {shown(stem)} in {corpus_dir}: {problem}" if problem else
                       f"no document named {shown(stem)} in {corpus_dir} (documents: {', '.join(sorted(known)) or 'none'})")
    file_name = f"{name}.txt"
    path = corpus_dir / file_name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != corpus_dir.resolve():
        raise AddError(f"{MANIFEST_NAME} lists {file_name}, but {path} is not a plain file in {corpus_dir}: "
                       "fix the manifest or the file first")
    return path


def remove_from_corpus(corpus_dir: Path, stem: str) -> CorpusChange:
    """Take a plan out of ``corpus_dir`` (text, kept sources, manifest entry), reversibly."""
    corpus_dir = Path(corpus_dir)
    manifest_before = _read_manifest(corpus_dir)
    text_path = plan_path(corpus_dir, stem, manifest_before)
    assert manifest_before is not None  # plan_path found the plan in it
    stem = text_path.stem  # the name as the manifest lists it, however it was spelled
    manifest_new = without_entry(_manifest_text(manifest_before), text_path.name)
    sources = corpus_dir / SOURCES
    victims = [text_path]
    names = {f"{stem}{suffix}" for suffix in SUPPORTED} | {f"{stem}{PAGES_SUFFIX}"}
    if sources.is_dir():
        victims += sorted(p for p in sources.iterdir() if p.name in names or
                          (p.name.startswith(f"{stem}.") and p.name.lower() in names))
    trash = Path(tempfile.mkdtemp(prefix=trash_prefix(corpus_dir), dir=corpus_dir.parent))
    moved = {path: trash / f"{index}-{path.name}" for index, path in enumerate(victims)}
    change = CorpusChange(corpus_dir, "remove", stem, manifest_before, moved=moved, trash=trash)
    try:
        change.write()
        write_atomic(corpus_dir / MANIFEST_NAME, manifest_new.encode("utf-8"))
        for path, kept in moved.items():
            os.replace(path, kept)
    except BaseException:
        change.rollback()
        raise
    return change
