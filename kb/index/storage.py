"""Store and load the search index: the folder layout, the atomic swap, verified loading.

Layout of an index folder (``index/`` by default)::

    index/current -> builds/<id>        a symlink, swapped atomically
    index/builds/<id>/manifest.json     what built it, checksums of every artefact
    index/builds/<id>/chunks.jsonl      chunk records (text, spans, heading paths), one per line
    index/builds/<id>/chunks.offsets.npy  byte offset of each record (read one at a time)
    index/builds/<id>/chunks.columns.npz  filter fields of every chunk as small integer codes
    index/builds/<id>/hashes.jsonl      content hash per chunk (which vectors can be reused)
    index/builds/<id>/vectors.npy       embeddings, reused for unchanged chunks
    index/builds/<id>/dense.faiss       FAISS index (type chosen by size)
    index/builds/<id>/lexical/          bm25s index over lemma terms
    index/resume/<model>/<id>.<pid>.journal  vectors of a build that has not finished (kb/index/journal.py)

A build (:mod:`kb.index.build`) is written into ``builds/<id>.<pid>.tmp``, renamed, and
only then is ``current`` re-pointed, so a build killed at any moment leaves the previous
index answering, and its resume journal lets the next build skip what it had embedded. Loading checks the manifest before anything else: format version,
model, analyzer, and the sha256 of every artefact, so a truncated or edited file is
refused with the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb.analysis.lemmas import ANALYZER_VERSION
from kb.errors import IndexUnavailable
from kb.index.chunkstore import ChunkStore
from kb.index.dense import load_dense
from kb.index.lexical import LexicalIndex
from kb.index.manifest import FORMAT_VERSION, IndexManifest
from kb.index.owner import owner_pid as _owner_pid
from kb.index.owner import pid_alive as _pid_alive
from kb.index.signals import check_sudachi, load_signals
from kb.ingest.corpus import corpus_files, sha256_file

__all__ = ["FORMAT_VERSION", "IndexManifest", "LoadedIndex", "load_index", "read_manifest", "resolve_build"]

MANIFEST = "manifest.json"
#: Stats of the artefacts when they last matched their checksums (:func:`write_stamp`).
VERIFIED = ".verified.json"
CURRENT = "current"
BUILDS = "builds"
KEEP_BUILDS = 2


@dataclass
class LoadedIndex:
    """An index in memory, ready to search."""

    path: Path
    manifest: IndexManifest
    #: Read on demand from disk (kb/index/chunkstore.py); ``chunks.columns`` has the filter fields.
    chunks: ChunkStore
    vectors: np.ndarray
    dense: Any  # a faiss.Index (faiss ships no type information)
    lexical: LexicalIndex
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The second lexical field (Sudachi forms + synonym groups) and the second encoder's
    #: FAISS index, where the build made them (kb/index/signals.py).
    sudachi: LexicalIndex | None = None
    use_dense: Any | None = None

    @property
    def model(self) -> str:
        return self.manifest.model.name

    def stale_documents(self, corpus_dir: Path | None = None) -> list[str]:
        """Corpus files that changed (or appeared/disappeared) since this index was built."""
        corpus_dir = Path(corpus_dir or self.manifest.corpus_dir)
        if not corpus_dir.is_dir():
            return []
        recorded = self.manifest.corpus
        current = {}
        for path in corpus_files(corpus_dir):
            try:
                current[path.name] = sha256_file(path)
            except OSError:
                current[path.name] = "unreadable"
        names = set(recorded) | set(current)
        return sorted(n for n in names if recorded.get(n) != current.get(n))


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk before it is renamed into place,
    so that after a power cut the rename never points at empty files."""
    for path in sorted(root.rglob("*"), reverse=True) + [root]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def artefact_checksums(build_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(build_dir)): sha256_file(p)
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, VERIFIED)
    }


def _file_stats(build: Path, names: Iterable[str]) -> dict[str, list[int]]:
    stats = {}
    for name in (*names, MANIFEST):
        st = (build / name).stat()
        stats[name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return stats


def write_stamp(build: Path, artefacts: Mapping[str, str]) -> None:
    """Remember that every artefact matched its checksum, by size, mtime, ctime and inode.

    Hashing every file on every load is what makes a corrupted index refuse to load, and
    at 10^6 chunks it reads 6 GB (~35 s) per `kb search`. After one full check (or the
    build, which has just computed the checksums) later loads compare these stats instead;
    any write to a file, or a change of its permissions (ctime), changes them, and the next
    load hashes everything again. A folder kb may not write to keeps being verified in full.
    """
    temporary = build / f"{VERIFIED}.{os.getpid()}"
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(_file_stats(build, artefacts)), encoding="utf-8")
        os.replace(temporary, build / VERIFIED)


def stamp_matches(build: Path, artefacts: Mapping[str, str]) -> bool:
    try:
        recorded = json.loads((build / VERIFIED).read_text(encoding="utf-8"))
        return bool(recorded) and recorded == _file_stats(build, artefacts)
    except (OSError, ValueError):
        return False


def resolve_build(index_dir: Path) -> Path:
    """The build folder an index folder points at (or the folder itself if it is one)."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    current = index_dir / CURRENT
    if current.exists() and (current / MANIFEST).is_file():
        return current.resolve()
    raise IndexUnavailable(
        f"no index in {index_dir.absolute()} (looked for {current.absolute()}/{MANIFEST}): run `kb build` "
        "in the project folder, or point at an index with --index DIR or $KB_INDEX"
    )


def prune_builds(index_dir: Path, keep: str) -> None:
    builds = index_dir / BUILDS
    if not builds.is_dir():
        return
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))
    stale = [p for p in finished if p.name != keep][: max(0, len(finished) - KEEP_BUILDS)]
    # Leftovers of killed builds; a temporary folder of a build still running is kept.
    for path in builds.iterdir():
        if path.name.endswith(".tmp"):
            owner = _owner_pid(path.name)
            if owner is None or not _pid_alive(owner):
                stale.append(path)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}.*"):
        owner = _owner_pid(link.name)
        if link.is_symlink() and (owner is None or not _pid_alive(owner)):
            link.unlink(missing_ok=True)


def swap_current(index_dir: Path, build_name: str) -> None:
    link = index_dir / CURRENT
    temporary = index_dir / f".{CURRENT}.{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(Path(BUILDS) / build_name)
    if link.exists() and not link.is_symlink():
        raise IndexUnavailable(f"{link} exists and is not a symlink; move it away and rebuild")
    os.replace(temporary, link)


def read_manifest(index_dir: Path) -> tuple[Path, IndexManifest]:
    build = resolve_build(index_dir)
    try:
        raw = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest unreadable ({exc.__class__.__name__}): run `kb build`") from None
    return build, IndexManifest.from_json(raw)


def check_model(manifest: IndexManifest, model: str | None) -> None:
    built_with = manifest.model.name
    if model and model != built_with:
        raise IndexUnavailable(
            f"index was built with model {built_with!r}, not {model!r}: "
            f"rebuild with `kb build --model {model}` or search without --model"
        )


def check_analyzer(manifest: IndexManifest) -> None:
    """Queries must be cut into terms the way the index was, or words silently stop matching."""
    built_with = manifest.lexical.analyzer_version
    if built_with != ANALYZER_VERSION:
        raise IndexUnavailable(
            f"index terms were made by analyzer version {built_with}, this kb uses {ANALYZER_VERSION}: run `kb build`"
        )


def load_index(index_dir: Path, *, model: str | None = None, verify: bool = True) -> LoadedIndex:
    build, manifest = read_manifest(index_dir)
    check_model(manifest, model)
    check_analyzer(manifest)
    check_sudachi(manifest)
    if verify and not stamp_matches(build, manifest.artefacts):
        for name, digest in manifest.artefacts.items():
            path = build / name
            if not path.is_file():
                raise IndexUnavailable(f"index file {name} is missing: run `kb build`")
            try:
                actual = sha256_file(path)
            except OSError as exc:
                raise IndexUnavailable(
                    f"index file {name} cannot be read ({exc.strerror}): fix its permissions or run `kb build`"
                ) from None
            if actual != digest:
                raise IndexUnavailable(f"index file {name} is damaged or was modified: run `kb build`")
        write_stamp(build, manifest.artefacts)
    try:
        chunks = ChunkStore(build)
        # Memory-mapped: search reads vectors from the FAISS index; these are for reuse.
        vectors = np.load(build / "vectors.npy", mmap_mode="r")
        dense = load_dense(build / "dense.faiss", manifest.dense_index)
        lexical = LexicalIndex.load(build / "lexical", len(chunks))
        signals = load_signals(build, manifest, len(chunks))
    except IndexUnavailable:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailable(f"index in {build} cannot be read ({exc.__class__.__name__}): run `kb build`") from None
    if len(chunks) != manifest.chunk_count or len(vectors) != len(chunks) or dense.ntotal != len(chunks):
        raise IndexUnavailable("index files disagree on the number of chunks: run `kb build`")
    dimension = manifest.model.dimension
    if vectors.ndim != 2 or vectors.shape[1] != dimension or dense.d != dimension:
        raise IndexUnavailable(
            f"index vectors are not {dimension}-dimensional as the manifest says: run `kb build`"
        )
    return LoadedIndex(
        path=build, manifest=manifest, chunks=chunks, vectors=vectors, dense=dense,
        lexical=lexical, documents=manifest.documents,
        sudachi=signals.sudachi, use_dense=signals.use_dense,
    )
