"""Installing a finished folder in one step, so no reader ever sees half of it.

The converted model, the ONNX query encoder and each index build are all written into a
temporary sibling folder and renamed into place. A rename cannot replace a non-empty
folder, so an existing one is first renamed aside and deleted after the swap; a
``filelock`` on the parent serialises two processes installing the same thing (two
``kb build`` runs, or the app and the CLI preparing the model at once).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

#: Prefix of temporary and set-aside folders; leftovers of killed runs carry it.
TMP_PREFIX = ".tmp-"


def lock_for(target: Path) -> FileLock:
    """The lock that guards installing ``target`` (a hidden file beside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(target.parent / f".{target.name}.lock"))


def install_dir(staged: Path, target: Path, *, keep_existing: Callable[[Path], bool] | None = None) -> bool:
    """Move the finished folder ``staged`` to ``target``; True if it was installed.

    When ``keep_existing`` says the folder already at ``target`` is complete (another
    process won the race), ``staged`` is discarded and ``target`` left alone.
    """
    with lock_for(target):
        aside: Path | None = None
        if target.exists():
            if keep_existing is not None and keep_existing(target):
                shutil.rmtree(staged, ignore_errors=True)
                return False
            aside = target.with_name(f"{TMP_PREFIX}{target.name}-old-{os.getpid()}-{time.time_ns()}")
            os.rename(target, aside)
        try:
            os.rename(staged, target)
        except OSError:
            if aside is not None and not target.exists():
                os.rename(aside, target)  # put the previous one back
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    return True
