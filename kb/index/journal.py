"""Vectors on disk, read row by row: the previous build's ``vectors.npy`` and the resume journal.

A build embeds group by group and appends every group's vectors to a **resume journal**
(``index/resume/<model>/<build>.<pid>.journal``), flushed and fsynced before the next group
starts. A build that is killed (or fails) after 30 hours of embedding leaves its journal
behind; the next build with the same model reads every journal in that folder and takes
their vectors for the chunks whose content hash matches, like the previous build's
verified vectors, so it embeds only the rest. After a successful swap of ``current`` the
build removes its own journal and the journals of dead builds it read (their vectors are
now in ``current``). Each build writes only its own file, so two concurrent builds never
write into each other's journal.

Journal layout: a header (magic, dimension, model name) and fixed-size records of
``sha256 digest (32 bytes) · float32 vector · crc32`` of the first two. Reading drops a
torn last record, any record whose crc or finiteness fails, and a journal whose header
names another model or dimension.

Vectors are read with ``os.pread`` one row at a time (:class:`RowFile`), never memory-mapped,
so the pages read do not stay in the build's resident memory.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from kb.index.pread import PositionalFile

RESUME = "resume"
MAGIC = b"KBVJRNL1"
SUFFIX = ".journal"
#: Records checked per read when a journal is opened.
SCAN_BLOCK = 4096
#: Journals this process is writing now (another thread's build; a failed build's journal is not).
_ACTIVE: set[Path] = set()


def model_slug(model: str) -> str:
    """A folder name for a model name (``intfloat/multilingual-e5-small`` → ``intfloat--multilingual-e5-small``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in model.replace("/", "--"))
    return safe.strip(".") or "model"


def journal_folder(index_dir: Path, model: str) -> Path:
    return Path(index_dir) / RESUME / model_slug(model)


def _header(model: str, dimension: int) -> bytes:
    name = model.encode("utf-8")
    return MAGIC + struct.pack("<II", dimension, len(name)) + name


def record_dtype(dimension: int) -> np.dtype:
    """One journal record: sha256 digest · float32 vector · crc32 of the two."""
    return np.dtype([("digest", "u1", (32,)), ("vector", "<f4", (dimension,)), ("crc", "<u4")])


def record_size(dimension: int) -> int:
    return record_dtype(dimension).itemsize


class RowFile:
    """Fixed-size rows of one file, each holding a float32 vector at a fixed place; read by ``pread``."""

    def __init__(self, path: Path, start: int, stride: int, at: int, dimension: int) -> None:
        self.path, self.start, self.stride, self.at, self.dimension = Path(path), start, stride, at, dimension
        self._file = PositionalFile(self.path)

    def read(self, row: int) -> np.ndarray:
        raw = self._file.read_at(self.start + row * self.stride + self.at, 4 * self.dimension)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)

    def close(self) -> None:
        self._file.close()


class VectorLookup(Mapping[bytes, np.ndarray]):
    """Vectors by content digest (the 32 raw bytes of the sha256), read on demand from :class:`RowFile` s.

    Per vector it keeps one dict entry (digest → file number and row packed in one int,
    ~170 bytes), never the vector.
    """

    def __init__(self) -> None:
        self._rows: dict[bytes, int] = {}
        self.files: list[RowFile] = []

    def add_file(self, rows: RowFile, digests: Mapping[bytes, int]) -> None:
        """Rows of ``rows`` by digest; digests already present keep their first source."""
        number = len(self.files) << 40
        self.files.append(rows)
        for key, row in digests.items():
            self._rows.setdefault(key, number | row)

    def __getitem__(self, key: bytes) -> np.ndarray:
        packed = self._rows[key]
        return self.files[packed >> 40].read(packed & ((1 << 40) - 1))

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        for rows in self.files:
            rows.close()


def npy_rows(path: Path) -> tuple[int, tuple[int, ...]] | None:
    """(data offset, shape) of a C-ordered little-endian float32 ``.npy`` file, else None."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                return None
            offset = handle.tell()
    except (OSError, ValueError):
        return None
    if fortran or dtype != np.dtype("<f4") or len(shape) != 2:
        return None
    return offset, tuple(shape)


def all_finite(path: Path, offset: int, count: int, block: int = 1 << 22) -> bool:
    """Whether ``count`` float32 values from ``offset`` are all finite (read in blocks, not mapped)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        left = count
        while left > 0:
            values = np.fromfile(handle, dtype="<f4", count=min(block, left))
            if len(values) == 0 or not np.isfinite(values).all():
                return False
            left -= len(values)
    return True


class JournalWriter:
    """Appends (digest, vector) records to this build's own journal, durable group by group."""

    def __init__(self, folder: Path, name: str, model: str, dimension: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{name}.{os.getpid()}{SUFFIX}"
        self.dimension = dimension
        self.records = 0
        self._dtype = record_dtype(dimension)
        self._out = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        _ACTIVE.add(self.path)
        self._out.write(_header(model, dimension))
        self._sync()

    def _sync(self) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())

    def append(self, digests: list[bytes], vectors: np.ndarray) -> None:
        records = np.zeros(len(digests), dtype=self._dtype)
        records["digest"] = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
        records["vector"] = vectors
        body = records.tobytes()
        size = self._dtype.itemsize
        for i in range(len(records)):
            records["crc"][i] = zlib.crc32(body[i * size : (i + 1) * size - 4])
        records.tofile(self._out)
        self._sync()
        self.records += len(records)

    def close(self) -> None:
        self._out.close()
        _ACTIVE.discard(self.path)


def read_journal(path: Path, model: str, dimension: int) -> tuple[RowFile, dict[bytes, int]] | None:
    """The intact records of one journal (digest → row), or None for another model's or an unreadable one."""
    header = _header(model, dimension)
    dtype = record_dtype(dimension)
    size = dtype.itemsize
    rows: dict[bytes, int] = {}
    try:
        with open(path, "rb") as handle:
            if handle.read(len(header)) != header:
                return None
            count = (os.fstat(handle.fileno()).st_size - len(header)) // size  # a torn last record is left out
            row = 0
            while row < count:
                block = np.fromfile(handle, dtype=dtype, count=min(SCAN_BLOCK, count - row))
                if len(block) == 0:
                    break
                body = block.tobytes()
                finite = np.isfinite(block["vector"]).all(axis=1)
                for i in range(len(block)):
                    if finite[i] and zlib.crc32(body[i * size : (i + 1) * size - 4]) == int(block["crc"][i]):
                        rows.setdefault(bytes(block["digest"][i]), row + i)
                row += len(block)
        return RowFile(path, len(header), size, 32, dimension), rows
    except (OSError, ValueError):
        return None


def owner_alive(path: Path) -> bool:
    """Whether the build that writes a journal still runs (its process, or a build of this one)."""
    from kb.index.owner import owner_pid as _owner_pid
    from kb.index.owner import pid_alive as _pid_alive

    pid = _owner_pid(path.name.removesuffix(SUFFIX))
    if pid is None:
        return False
    if pid == os.getpid():
        return path in _ACTIVE
    return _pid_alive(pid)


def read_journals(index_dir: Path, model: str, dimension: int, lookup: VectorLookup) -> list[Path]:
    """Add every readable journal of ``model`` to ``lookup``; returns the journals read."""
    folder = journal_folder(index_dir, model)
    read: list[Path] = []
    if not folder.is_dir():
        return read
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        found = read_journal(path, model, dimension)
        if found is None:
            continue
        rows, hashes = found
        lookup.add_file(rows, hashes)
        read.append(path)
    return read


def remove_journals(paths: list[Path]) -> None:
    """Remove finished journals, then the model's folder and ``resume/`` if they are empty."""
    for path in paths:
        path.unlink(missing_ok=True)
    for path in paths[:1]:
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break
