"""A file opened once and read by position: what the chunk store and the vector lookups share.

``os.pread`` has no shared file position, so one descriptor serves every thread of the app
at once, and reading record *i* costs one system call, not a seek plus a read.
"""

from __future__ import annotations

import os
from pathlib import Path


class PositionalFile:
    """A read-only descriptor for ``pread``; closed explicitly or when garbage-collected."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY)

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._fd, size, offset)

    def close(self) -> None:
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()
