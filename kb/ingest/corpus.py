"""Load the plan texts and their provenance from ``corpus/``.

A result's address is ``doc`` (file name without ``.txt``) plus 1-based line numbers
in that file, so the loader keeps every line exactly as it is on disk: nothing here
cleans or joins text. Cleaning happens later and only ever *labels* lines.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kb.domain import SourceSpan  # noqa: F401 - re-exported: the corpus's coordinates
from kb.errors import CorpusError

MANIFEST_NAME = "manifest.toml"

#: Cities a user can filter by. The wide-area vision is Kurume's plan made with its
#: neighbours, so its ``city`` is 久留米市 and its ``area`` is 広域.
KURUME = "久留米市"
KUMAMOTO = "熊本市"
WIDE_AREA = "広域"
CITY_CHOICES = (KURUME, KUMAMOTO, WIDE_AREA)

#: What users type for a city besides its name in kanji (CLI options, API and URL parameters).
CITY_ALIASES = {
    "kurume": KURUME, "久留米": KURUME, "kurume city": KURUME, "kurume-shi": KURUME,
    "kumamoto": KUMAMOTO, "熊本": KUMAMOTO, "kumamoto city": KUMAMOTO, "kumamoto-shi": KUMAMOTO,
    "kouiki": WIDE_AREA, "koiki": WIDE_AREA, "wide-area": WIDE_AREA, "wide area": WIDE_AREA, "widearea": WIDE_AREA,
    "region": WIDE_AREA, "regional": WIDE_AREA,
}

log = logging.getLogger(__name__)


def resolve_city(value: str | None) -> str | None:
    """The city's name as the manifest has it (久留米市) for what a user typed (kurume, Kurume, 久留米)."""
    if value is None:
        return None
    cleaned = value.strip()
    return CITY_ALIASES.get(cleaned.casefold(), cleaned) if cleaned else None


@dataclass(frozen=True)
class Document:
    """One plan file and what ``manifest.toml`` says about it."""

    doc: str
    path: Path
    title: str
    city: str
    area: str
    municipality: str
    kind: str = ""
    period: str = ""
    structure: str = ""
    title_en: str = ""
    prefecture: str = ""
    sha256: str = ""
    lines: tuple[str, ...] = field(default=(), repr=False)

    def line(self, number: int) -> str:
        """The raw text of 1-based line ``number``."""
        return self.lines[number - 1]

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "doc": self.doc,
            "title": self.title,
            "title_en": self.title_en,
            "city": self.city,
            "area": self.area,
            "municipality": self.municipality,
            "prefecture": self.prefecture,
            "kind": self.kind,
            "period": self.period,
            "structure": self.structure,
        }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed: index vectors and model weights are large."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def sizes_match(directory: Path, sizes: dict[str, int]) -> bool:
    """Every file named in ``sizes`` exists under ``directory`` with that size.

    A cheap check that an installed artefact (converted model, ONNX export) is whole
    without hashing hundreds of megabytes on every start.
    """
    for name, size in sizes.items():
        try:
            if (Path(directory) / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def decode_text(data: bytes, name: str) -> str:
    """Decode a corpus file as UTF-8, refusing anything else with a helpful message.

    PDF extractions from Japanese sites often arrive as Shift_JIS/CP932 or, from Windows
    tools, UTF-16; silently decoding them wrongly would index mojibake, so we detect the
    encoding, name it, and say how to convert.
    """
    if not data.strip():
        raise CorpusError(f"{name}: the file is empty")
    utf16 = _utf16_variant(data)
    if utf16:
        raise CorpusError(f"{name}: encoded as {utf16}; convert it to UTF-8 (e.g. iconv -f {utf16} -t UTF-8) and rebuild")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CorpusError(f"{name}: contains a NUL byte at byte {nul}, so it is a binary file, not UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            data.decode("cp932")
        except UnicodeDecodeError:
            raise CorpusError(f"{name}: not UTF-8 text (and not Shift_JIS/CP932 either)") from None
        raise CorpusError(
            f"{name}: encoded as Shift_JIS/CP932; convert it to UTF-8 "
            f"(e.g. iconv -f CP932 -t UTF-8) and rebuild"
        ) from None
    if not text.strip():
        raise CorpusError(f"{name}: the file is empty")
    return text


def _utf16_variant(data: bytes) -> str:
    """``UTF-16LE``/``UTF-16BE`` when ``data`` looks like UTF-16 (a BOM, or NULs in every other byte)."""
    if data.startswith(b"\xff\xfe"):
        return "UTF-16LE"
    if data.startswith(b"\xfe\xff"):
        return "UTF-16BE"
    sample = data[:4096]
    if len(sample) >= 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        half = len(sample) // 2
        # ASCII-heavy UTF-16 has a NUL in one byte of (nearly) every pair and none in the other.
        if odd > 0.4 * half and even == 0:
            return "UTF-16LE"
        if even > 0.4 * half and odd == 0:
            return "UTF-16BE"
    return ""


def split_lines(text: str) -> tuple[str, ...]:
    """Split like ``cat -n`` counts: ``\\n`` separates lines, a final newline ends the last.

    ``str.splitlines`` would also split on U+2028, form feeds etc., which would shift
    every later line number away from what editors and ``sed -n`` show.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


def _area_of(municipality: str, city: str) -> str:
    return WIDE_AREA if ("広域" in municipality or "都市圏" in municipality) else city


def _city_of(municipality: str, file_name: str) -> str:
    for city in (KUMAMOTO, KURUME):
        if municipality.startswith((city, city[:-1])):
            return city
    if file_name.startswith("kumamoto"):
        return KUMAMOTO
    if file_name.startswith("kurume"):
        return KURUME
    return municipality or "不明"


def read_manifest(corpus_dir: Path) -> list[dict[str, str]]:
    path = corpus_dir / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        return []
    if not path.is_file():
        raise CorpusError(f"{path} is not a readable file: make it the corpus's TOML manifest, or remove it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read manifest ({exc})") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read manifest ({exc.strerror}): check its permissions") from None
    entries = data.get("document", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CorpusError(f"{path}: expected [[document]] tables (file = ..., title = ...), one per plan")
    return [dict(e) for e in entries]


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The plan files of ``corpus_dir``: regular ``*.txt`` files, sorted by name.

    Build and staleness check both list the corpus through here, so they agree on what
    is in it. A dangling symlink, a symlink loop or a folder named ``x.txt`` is skipped
    with a warning (it cannot be indexed, and must not break every later search); a file
    name that is not valid UTF-8 is refused, because its address could not be written.
    """
    paths = []
    for path in sorted(Path(corpus_dir).iterdir()):
        if path.suffix != ".txt":
            continue
        try:
            path.name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(path.name).decode("utf-8", "backslashreplace")
            raise CorpusError(f"{corpus_dir}: the file name {shown!r} is not valid UTF-8: rename it") from None
        try:
            regular = path.is_file()
        except OSError:
            regular = False
        if not regular:
            log.warning("skipping %s: not a regular file (a folder, or a broken or looping link)", path)
            continue
        paths.append(path)
    return paths


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every ``*.txt`` in ``corpus_dir`` with its manifest entry, sorted by name.

    Files the manifest does not list are still loaded (title = file name), so a user
    can drop a new plan in and build; a manifest entry whose file is missing, or two
    entries for one file, is an error because the manifest is then wrong.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    entries = read_manifest(corpus_dir)
    by_file: dict[str, dict[str, str]] = {}
    for entry in entries:
        name = str(entry.get("file", "")).strip()
        if not name:
            raise CorpusError(f"{corpus_dir / MANIFEST_NAME}: an entry has no 'file'")
        if name in by_file:
            raise CorpusError(f"{corpus_dir / MANIFEST_NAME}: duplicate entry for {name}")
        if not (corpus_dir / name).is_file():
            raise CorpusError(f"{corpus_dir / MANIFEST_NAME}: lists {name}, which is missing")
        by_file[name] = entry
    paths = corpus_files(corpus_dir)
    if not paths:
        raise CorpusError(f"no documents (*.txt) in {corpus_dir}")
    seen: dict[str, Path] = {}
    documents = []
    for path in paths:
        stem = path.stem
        key = stem.casefold()
        if key in seen:
            raise CorpusError(f"duplicate document name: {seen[key].name} and {path.name}")
        seen[key] = path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CorpusError(f"{path}: cannot read it ({exc.strerror}): check its permissions") from None
        text = decode_text(data, path.name)
        entry = by_file.get(path.name, {})
        municipality = str(entry.get("municipality", ""))
        city = _city_of(municipality, path.name)
        documents.append(
            Document(
                doc=stem,
                path=path,
                title=str(entry.get("title", stem)),
                title_en=str(entry.get("title_en", "")),
                city=city,
                area=_area_of(municipality, city),
                municipality=municipality or city,
                prefecture=str(entry.get("prefecture", "")),
                kind=str(entry.get("kind", "")),
                period=str(entry.get("period", "")),
                structure=str(entry.get("structure", "")),
                sha256=sha256_bytes(data),
                lines=split_lines(text),
            )
        )
    return documents


def corpus_hashes(documents: list[Document]) -> dict[str, str]:
    return {d.path.name: d.sha256 for d in documents}
