"""Chunk records on disk, read one at a time: a searcher holds offsets and columns, not texts.

Every chunk's record (text, search text, embed text, heading path, spans: ~3 KB of JSON)
stays in ``chunks.jsonl``. At build time :class:`ChunkStoreWriter` also writes

* ``chunks.offsets.npy`` — the byte offset of every record (N + 1 int64), so record *i* is
  one ``pread`` of a known range, and
* ``chunks.columns.npz`` — what the searcher needs for *every* chunk on every query (the
  filter fields, the kind and the "supporting material" flag) as small integer codes into
  per-field vocabularies.

A searcher over 10^6 chunks then keeps ~30 MB of arrays instead of several GB of Python
objects, filters with numpy comparisons on the codes, and reads only the records of the
few hundred candidates it ranks (:class:`ChunkStore`, with a bounded cache). Small indexes
take the same road: one code path, and the whole real corpus fits in the cache anyway.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, overload

import numpy as np

from kb.chunk import Chunk
from kb.errors import IndexUnavailable
from kb.index.pread import PositionalFile

CHUNKS = "chunks.jsonl"
OFFSETS = "chunks.offsets.npy"
COLUMNS = "chunks.columns.npz"

#: Fields every query may look at for every chunk, stored as codes into a vocabulary.
#: ``section`` is the heading path joined, what the goal filter and per-section caps read.
CODED_FIELDS = ("city", "area", "doc", "kind", "goal", "section")

#: Heading-path elements that mark supporting material rather than plan content.
SUPPORTING_SECTIONS = ("参考資料", "脚注", "用語解説")

#: Records kept parsed in memory: a query reads a few hundred; the real corpus has ~450.
CACHE_SIZE = 4096


def is_supporting(chunk: Chunk) -> bool:
    """Appendices, footnotes, glossaries: they restate or define measures."""
    return any(part in SUPPORTING_SECTIONS for part in chunk.heading_path)


def chunk_record(chunk: Chunk) -> dict[str, Any]:
    return asdict(chunk)


def chunk_from_record(record: dict[str, Any]) -> Chunk:
    names = {f.name for f in fields(Chunk)}
    values = {k: v for k, v in record.items() if k in names}
    for key in ("heading_path", "lines", "outline"):
        values[key] = tuple(values.get(key, ()))
    return Chunk(**values)


@dataclass(frozen=True)
class ChunkColumns:
    """Per-chunk codes into per-field vocabularies, plus the supporting-material flag."""

    codes: dict[str, np.ndarray]
    vocabularies: dict[str, tuple[str, ...]]
    supporting: np.ndarray
    #: Characters of display text and lines of span per chunk (the learned ranker's length
    #: features); zeros in an index written before they were kept.
    chars: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    span: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.supporting)

    def values(self, name: str) -> tuple[str, ...]:
        """The distinct values of one field (documents, cities, kinds …), in first-seen order."""
        return self.vocabularies[name]

    def equals(self, name: str, value: str) -> np.ndarray:
        """Mask of the chunks whose field ``name`` is ``value``."""
        try:
            code = self.vocabularies[name].index(value)
        except ValueError:
            return np.zeros(len(self), dtype=bool)
        return self.codes[name] == code

    def contains(self, name: str, needle: str) -> np.ndarray:
        """Mask of the chunks whose field ``name`` contains ``needle`` (tested once per distinct value)."""
        hits = np.array([needle in value for value in self.vocabularies[name]], dtype=bool)
        return hits[self.codes[name]] if len(hits) else np.zeros(len(self), dtype=bool)

    def value(self, name: str, item: int) -> str:
        return self.vocabularies[name][int(self.codes[name][item])]

    def distinct(self, names: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
        """The distinct combinations of some fields in order of first appearance, each as
        (first chunk, number of chunks, values): a catalogue of plans or goals without
        reading a record."""
        if not len(self):
            return []
        stacked = np.stack([self.codes[name] for name in names], axis=1)
        rows, first, counts = np.unique(stacked, axis=0, return_index=True, return_counts=True)
        return [
            (int(first[i]), int(counts[i]), tuple(self.vocabularies[n][int(c)] for n, c in zip(names, rows[i])))
            for i in np.argsort(first, kind="stable")
        ]


class ChunkStoreWriter:
    """Writes ``chunks.jsonl`` record by record, with its offsets and columns, in one pass.

    Nothing is kept per chunk but a few integers, so a build can stream 10^6 chunks through it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._out = (self.folder / CHUNKS).open("wb")
        self._offsets: list[int] = [0]
        self._codes: dict[str, list[int]] = {name: [] for name in CODED_FIELDS}
        self._lookup: dict[str, dict[str, int]] = {name: {} for name in CODED_FIELDS}
        self._supporting: list[bool] = []
        self._chars: list[int] = []
        self._span: list[int] = []

    def add(self, chunk: Chunk) -> None:
        line = (json.dumps(chunk_record(chunk), ensure_ascii=False) + "\n").encode("utf-8")
        self._out.write(line)
        self._offsets.append(self._offsets[-1] + len(line))
        for name in CODED_FIELDS:
            lookup = self._lookup[name]
            value = getattr(chunk, name)
            self._codes[name].append(lookup.setdefault(value, len(lookup)))
        self._supporting.append(is_supporting(chunk))
        self._chars.append(len(chunk.text))
        self._span.append(chunk.line_end - chunk.line_start + 1)

    def extend(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            self.add(chunk)

    def close(self) -> int:
        """Finish the three files; returns the number of records."""
        self._out.close()
        np.save(self.folder / OFFSETS, np.asarray(self._offsets, dtype=np.int64))
        arrays: dict[str, np.ndarray] = {"supporting": np.asarray(self._supporting, dtype=bool),
                                         "chars": np.asarray(self._chars, dtype=np.int32),
                                         "span": np.asarray(self._span, dtype=np.int32)}
        for name in CODED_FIELDS:
            arrays[f"{name}.codes"] = np.asarray(self._codes[name], dtype=np.int32)
            arrays[f"{name}.values"] = np.asarray(list(self._lookup[name]), dtype=str)
        with (self.folder / COLUMNS).open("wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub wants positional arrays
        return len(self._supporting)

    def abort(self) -> None:
        """Stop writing (the build's temporary folder is removed by the caller)."""
        self._out.close()


def write_chunk_store(chunks: Iterable[Chunk], folder: Path) -> int:
    """All of ``chunks`` into ``folder``; returns how many."""
    writer = ChunkStoreWriter(folder)
    try:
        writer.extend(chunks)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def load_columns(folder: Path) -> ChunkColumns:
    with np.load(Path(folder) / COLUMNS, allow_pickle=False) as data:
        codes = {name: np.asarray(data[f"{name}.codes"]) for name in CODED_FIELDS}
        vocabularies = {name: tuple(str(v) for v in data[f"{name}.values"]) for name in CODED_FIELDS}
        supporting = np.asarray(data["supporting"], dtype=bool)
        empty = np.zeros(len(supporting), dtype=np.int32)
        chars = np.asarray(data["chars"], dtype=np.int32) if "chars" in data.files else empty
        span = np.asarray(data["span"], dtype=np.int32) if "span" in data.files else empty
    return ChunkColumns(codes=codes, vocabularies=vocabularies, supporting=supporting, chars=chars, span=span)


class ChunkStore(Sequence[Chunk]):
    """The chunks of one build as a read-only sequence; records are read on demand.

    ``store[i]`` parses one record (cached, thread-safe: ``os.pread`` has no shared file
    position); iterating reads the file front to back without filling the cache.
    """

    def __init__(self, folder: Path, *, cache_size: int = CACHE_SIZE) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CHUNKS
        self.offsets = np.load(self.folder / OFFSETS, mmap_mode="r")
        self.columns = load_columns(self.folder)
        size = self.path.stat().st_size
        if self.offsets.ndim != 1 or len(self.offsets) != len(self.columns) + 1 or int(self.offsets[-1]) != size:
            raise IndexUnavailable(f"{CHUNKS} and its offsets disagree: run `kb build`")
        self._file = PositionalFile(self.path)
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, item: int) -> Chunk: ...

    @overload
    def __getitem__(self, item: slice) -> list[Chunk]: ...

    def __getitem__(self, item: int | slice) -> Chunk | list[Chunk]:
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(len(self)))]
        index = int(item)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"chunk {item} out of range (0..{len(self) - 1})")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
        chunk = self._read(index)
        with self._lock:
            self._cache[index] = chunk
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return chunk

    def _read(self, index: int) -> Chunk:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        raw = self._file.read_at(start, end - start)
        try:
            return chunk_from_record(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise IndexUnavailable(f"chunk record {index} in {self.path} is unreadable ({exc.__class__.__name__}): "
                                   "run `kb build`") from None

    def __iter__(self) -> Iterator[Chunk]:
        with self.path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield chunk_from_record(json.loads(line))

    def close(self) -> None:
        self._file.close()
