"""Add a plan to the corpus (or remove one) so that a failed attempt changes nothing.

``kb add PATH`` turns a .txt, .pdf or .html file into ``corpus/<stem>.txt``, keeps the
original in ``corpus/sources/`` (with the PDF's page map, :mod:`kb.ingest.pages`) and
appends its ``[[document]]`` entry to ``manifest.toml``. Everything is first written into
a staging folder next to the corpus and checked there (it loads with the rest of the
corpus and has text the parser keeps); only then are the files moved in, and
:class:`CorpusChange` can put the corpus back exactly as it was if the index rebuild
that follows fails. The index itself is only ever replaced atomically by the build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import CorpusError
from kb.ingest.corpus import MANIFEST_NAME, Document, load_corpus
from kb.ingest.pages import PAGES_SUFFIX, SOURCES, PageMap, write_pages

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
    return name


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


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


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
    body = "".join(f"{key} = {_toml_string(value)}\n" for key, value in fields.items() if value)
    return f"\n[[document]]\n{body}"  # a blank line, then the block


_ENTRY_RE = re.compile(r"^\[\[document\]\][ \t]*$", re.MULTILINE)


def with_entry(manifest: str, entry: str) -> str:
    """The manifest text with ``entry`` appended after one blank line (comments kept)."""
    if manifest and not manifest.endswith("\n"):
        manifest += "\n"
    return manifest + entry


def without_entry(manifest: str, file_name: str) -> str:
    """The manifest text minus the ``[[document]]`` block of ``file_name`` (comments kept).

    The exact inverse of :func:`with_entry` for the last entry, so ``kb add`` followed by
    ``kb remove`` leaves the manifest byte for byte as it was.
    """
    starts = [m.start() for m in _ENTRY_RE.finditer(manifest)]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(manifest)
        block = manifest[start:end]
        try:
            entry = tomllib.loads(block)
        except tomllib.TOMLDecodeError:
            continue
        if entry.get("document", [{}])[0].get("file") == file_name:
            rest = manifest[:start] + manifest[end:]
            if end == len(manifest) and rest.endswith("\n\n"):
                rest = rest[:-1]  # the blank line with_entry put before it
            return rest
    return manifest


def _known_stems(corpus_dir: Path) -> set[str]:
    return {p.stem.casefold() for p in corpus_dir.glob("*.txt")}


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@dataclass
class CorpusChange:
    """Files moved into (or out of) the corpus, and how to put everything back.

    ``created`` are new paths to delete on rollback; ``moved`` maps a corpus path to
    where its previous content waits (restored on rollback, deleted on commit);
    ``manifest`` is the manifest's text before the change.
    """

    corpus_dir: Path
    manifest: bytes | None
    created: list[Path] = field(default_factory=list)
    moved: dict[Path, Path] = field(default_factory=dict)
    trash: Path | None = None

    def rollback(self) -> None:
        for path in self.created:
            path.unlink(missing_ok=True)
        for original, kept in self.moved.items():
            os.replace(kept, original)
        manifest = self.corpus_dir / MANIFEST_NAME
        if self.manifest is None:
            manifest.unlink(missing_ok=True)
        else:
            _write_atomic(manifest, self.manifest)
        self._clear()

    def commit(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.trash is not None:
            shutil.rmtree(self.trash, ignore_errors=True)
        sources = self.corpus_dir / SOURCES
        if sources.is_dir() and not any(sources.iterdir()):
            sources.rmdir()


@contextmanager
def _staging(corpus_dir: Path) -> Iterator[Path]:
    """A scratch folder on the corpus's own file system (so moves out of it are renames)."""
    folder = Path(tempfile.mkdtemp(prefix=".kb-stage-", dir=corpus_dir.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_manifest(corpus_dir: Path) -> bytes | None:
    path = corpus_dir / MANIFEST_NAME
    return path.read_bytes() if path.is_file() else None


def describe_outline(doc: Document) -> str:
    """The manifest's ``structure`` line for an added plan: what the parser found in it."""
    from collections import Counter

    from kb.ingest.parse import family_for

    family = family_for(doc)
    parsed = family.parse(doc)
    counts = Counter(str(s.kind) for s in parsed.sections if s.heading)
    found = ", ".join(f"{counts[k]} {k}" for k in ("goal", "measure", "kpi") if counts[k])
    return f"added with kb add; {family.FAMILY} outline: {found or 'no numbered headings'}"


def add_to_corpus(corpus_dir: Path, source: Path, info: PlanInfo, *, stem: str | None = None) -> tuple[CorpusChange, str]:
    """Convert ``source`` and install it in ``corpus_dir``; returns the change and the stem.

    Nothing in the corpus changes unless conversion and a trial load both succeed.
    The caller rebuilds the index and then commits or rolls back the change.
    """
    corpus_dir = Path(corpus_dir)
    source = Path(source)
    if not corpus_dir.is_dir():
        raise AddError(f"corpus folder not found: {corpus_dir}")
    name = stem_for(source, stem)
    if source.suffix.lower() not in SUPPORTED:
        convert(source)  # raises the unsupported-type error
    if name.casefold() in _known_stems(corpus_dir):
        raise AddError(f"a document named {name!r} is already in {corpus_dir}; `kb remove {name}` first, "
                       "or add the file under another name")
    converted = convert(source)
    if not any(x.strip() for x in converted.lines):
        raise AddError(f"{source.name}: no text to add")
    manifest_before = _read_manifest(corpus_dir)
    title = info.title or converted.title or name
    kept_source = f"{SOURCES}/{name}{source.suffix.lower()}"
    with _staging(corpus_dir) as stage:
        staged_corpus = stage / "corpus"
        shutil.copytree(corpus_dir, staged_corpus, ignore=shutil.ignore_patterns(SOURCES))
        (staged_corpus / f"{name}.txt").write_text(converted.text, encoding="utf-8")
        # Trial load: the new plan must load with the others and keep some text after parsing.
        documents = {d.doc: d for d in load_corpus(staged_corpus)}
        if name not in documents:
            raise AddError(f"{source.name}: the converted text did not load as {name}.txt")
        new = documents[name]
        from kb.ingest.parse import parse_document

        if not any(s.lines for s in parse_document(new).sections):
            raise AddError(f"{source.name}: no text to add (only blank lines, page numbers or headers)")
        entry = manifest_entry(name, PlanInfo(title, info.city, info.kind, info.period, info.prefecture,
                                              info.title_en), source=kept_source, structure=describe_outline(new))
        manifest_new = with_entry((manifest_before or b"").decode("utf-8"), entry)
        (staged_corpus / MANIFEST_NAME).write_text(manifest_new, encoding="utf-8")
        load_corpus(staged_corpus)  # the manifest parses and lists an existing file
        staged_sources = stage / SOURCES
        staged_sources.mkdir()
        shutil.copy2(source, staged_sources / Path(kept_source).name)
        if converted.pages is not None:
            write_pages(staged_sources / f"{name}{PAGES_SUFFIX}", PageMap(kept_source, tuple(converted.pages)))
        # Install: new files first (renames within one file system), the manifest last.
        change = CorpusChange(corpus_dir, manifest_before)
        try:
            sources = corpus_dir / SOURCES
            sources.mkdir(exist_ok=True)
            for staged in sorted(staged_sources.iterdir()):
                target = sources / staged.name
                if target.exists():
                    raise AddError(f"{target} already exists; move it away or `kb remove {name}` first")
                os.replace(staged, target)
                change.created.append(target)
            text_path = corpus_dir / f"{name}.txt"
            os.replace(staged_corpus / f"{name}.txt", text_path)
            change.created.append(text_path)
            _write_atomic(corpus_dir / MANIFEST_NAME, manifest_new.encode("utf-8"))
        except BaseException:
            change.rollback()
            raise
    return change, name


def remove_from_corpus(corpus_dir: Path, stem: str) -> CorpusChange:
    """Take a plan out of ``corpus_dir`` (text, kept sources, manifest entry), reversibly."""
    corpus_dir = Path(corpus_dir)
    text_path = corpus_dir / f"{stem}.txt"
    if not text_path.is_file():
        known = ", ".join(sorted(p.stem for p in corpus_dir.glob("*.txt"))) or "none"
        raise AddError(f"no document named {stem!r} in {corpus_dir} (documents: {known})")
    manifest_before = _read_manifest(corpus_dir)
    trash = Path(tempfile.mkdtemp(prefix=".kb-removed-", dir=corpus_dir.parent))
    change = CorpusChange(corpus_dir, manifest_before, trash=trash)
    try:
        if manifest_before is not None:
            _write_atomic(corpus_dir / MANIFEST_NAME,
                          without_entry(manifest_before.decode("utf-8"), text_path.name).encode("utf-8"))
        sources = corpus_dir / SOURCES
        victims = [text_path]
        names = {f"{stem}{suffix}" for suffix in SUPPORTED} | {f"{stem}{PAGES_SUFFIX}"}
        if sources.is_dir():
            victims += sorted(p for p in sources.iterdir() if p.name in names or
                              (p.name.startswith(f"{stem}.") and p.name.lower() in names))
        for index, path in enumerate(victims):
            kept = trash / f"{index}-{path.name}"
            os.replace(path, kept)
            change.moved[path] = kept
    except BaseException:
        change.rollback()
        raise
    return change
