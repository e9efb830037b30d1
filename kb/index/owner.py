"""Which process owns a temporary build or resume journal (``<id>.<pid>.tmp``), and is it alive.

Its own module so that both the index storage (stale temporaries) and the resume journal
(stale journals) can ask without importing each other.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_pid(name: str) -> int | None:
    """The build process that owns a temporary ``<id>.<pid>.tmp`` / ``.current.<pid>``, if named."""
    parts = name.removesuffix(".tmp").rsplit(".", 1)
    return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None
