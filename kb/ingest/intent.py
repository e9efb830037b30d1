"""The corpus lock and the intent journal that make ``kb add`` / ``kb remove`` all or nothing.

A plan is added (or removed) in several steps: files renamed into (or out of) the
corpus, the manifest replaced, the index rebuilt, the set-aside files deleted. A kill
between two steps used to leave a plan in the corpus without its manifest entry, or a
removed plan still listed; two adds at once could each rebuild, and the older build
could be swapped in last, so the index lacked a plan.

So every change holds :func:`corpus_lock` from its first check to its last step (two
adds over one corpus run one after the other, each rebuild seeing the other's plan),
and before it touches the corpus it writes an *intent* (:class:`Intent`) next to the
corpus: every path it will create, every file it will set aside and where, and the
manifest as it was. Undoing is then possible from the journal alone, after any kill
(SIGKILL included), and every step is safe to repeat. :func:`recover`, which the next
add or remove runs first, rolls an unfinished change back, or finishes one that had
reached ``done`` (the index was already rebuilt; only set-aside files remained).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from filelock import FileLock, Timeout

from kb.atomic import lock_for
from kb.errors import CorpusError
from kb.ingest.corpus import MANIFEST_NAME
from kb.ingest.pages import SOURCES

#: A change that may still be undone, and one whose index is rebuilt (only clean-up is left).
CHANGING, DONE = "changing", "done"


def _prefix(corpus_dir: Path, kind: str) -> str:
    return f".kb-{kind}-{corpus_dir.name}-"


def stage_prefix(corpus_dir: Path) -> str:
    """Prefix of the staging folders of ``corpus_dir`` (beside it; full copies of the corpus)."""
    return _prefix(corpus_dir, "stage")


def trash_prefix(corpus_dir: Path) -> str:
    """Prefix of the folders where a removal keeps the files it took out until it is done."""
    return _prefix(corpus_dir, "removed")


def journal_path(corpus_dir: Path) -> Path:
    return corpus_dir.parent / f".kb-intent-{corpus_dir.name}.json"


def corpus_lock(corpus_dir: Path) -> FileLock:
    """The lock every add/remove of ``corpus_dir`` holds, rebuild included (``.<corpus>.lock`` beside it)."""
    return lock_for(corpus_dir)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` in one rename, flushed first, so a kill leaves the old or the new bytes."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass
class Intent:
    """What a change will do to the corpus, written before it does any of it.

    ``created`` are paths to delete on undo; ``moved`` maps a corpus path to where it is
    set aside (moved back on undo, deleted when done); ``manifest`` is the manifest before
    (base64; None: there was none).
    """

    corpus_dir: Path
    operation: str
    stem: str
    manifest: bytes | None
    created: list[Path] = field(default_factory=list)
    moved: dict[Path, Path] = field(default_factory=dict)
    trash: Path | None = None
    phase: str = CHANGING

    def write(self) -> None:
        record = {
            "operation": self.operation, "stem": self.stem, "phase": self.phase, "pid": os.getpid(),
            "manifest": None if self.manifest is None else base64.b64encode(self.manifest).decode("ascii"),
            "created": [str(p) for p in self.created],
            "moved": {str(k): str(v) for k, v in self.moved.items()},
            "trash": None if self.trash is None else str(self.trash),
        }
        write_atomic(journal_path(self.corpus_dir), json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))

    @classmethod
    def read(cls, corpus_dir: Path) -> Intent | None:
        path = journal_path(corpus_dir)
        if not path.is_file():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            manifest = raw["manifest"]
            return cls(
                corpus_dir, str(raw["operation"]), str(raw["stem"]),
                None if manifest is None else base64.b64decode(manifest),
                [Path(p) for p in raw["created"]], {Path(k): Path(v) for k, v in raw["moved"].items()},
                Path(raw["trash"]) if raw.get("trash") else None, str(raw.get("phase", CHANGING)),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(f"{path} (the record of an unfinished kb add/remove) cannot be read "
                              f"({exc.__class__.__name__}); check {corpus_dir} by hand, then delete it") from None

    def undo(self) -> None:
        """Put the corpus back as it was before the change; safe to repeat after a kill."""
        for path in self.created:
            path.unlink(missing_ok=True)
        for original, kept in self.moved.items():
            if kept.exists():
                os.replace(kept, original)
        manifest = self.corpus_dir / MANIFEST_NAME
        if self.manifest is None:
            manifest.unlink(missing_ok=True)
        else:
            write_atomic(manifest, self.manifest)
        self._clean_up()

    def finish(self) -> None:
        """The change stands (the index was rebuilt with it): drop what was set aside."""
        if self.phase != DONE:
            self.phase = DONE
            self.write()  # from here on a kill finishes the change instead of undoing it
        self._clean_up()

    def _clean_up(self) -> None:
        if self.trash is not None:
            shutil.rmtree(self.trash, ignore_errors=True)
        sources = self.corpus_dir / SOURCES
        with contextlib.suppress(OSError):
            if sources.is_dir() and not any(sources.iterdir()):
                sources.rmdir()
        journal_path(self.corpus_dir).unlink(missing_ok=True)


def recover(corpus_dir: Path) -> str:
    """Finish or undo a change a killed add/remove left; remove its staging folders.

    Call with :func:`corpus_lock` held. Returns what was done ("" if nothing was pending).
    """
    corpus_dir = Path(corpus_dir)
    said = ""
    intent = Intent.read(corpus_dir)
    if intent is not None:
        if intent.phase == DONE:
            intent.finish()
            said = f"finished the interrupted `kb {intent.operation} {intent.stem}`"
        else:
            intent.undo()
            said = f"undid the interrupted `kb {intent.operation} {intent.stem}`; run it again"
    parent = corpus_dir.parent
    if parent.is_dir():
        for leftover in parent.glob(stage_prefix(corpus_dir) + "*"):
            shutil.rmtree(leftover, ignore_errors=True)  # copies only: the corpus never depends on them
        for leftover in parent.glob(trash_prefix(corpus_dir) + "*"):
            with contextlib.suppress(OSError):
                leftover.rmdir()  # only empty ones: a full one is never left without its journal
    return said


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit (like Ctrl-C raises KeyboardInterrupt), so a change is undone, not cut off.

    Only the main thread may set signal handlers; elsewhere (the app's add, in a worker
    thread) a kill is left to the journal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def exclusive(corpus_dir: Path, say: Callable[[str], None] | None = None) -> Iterator[str]:
    """Hold the corpus lock, first finishing or undoing a killed change; yields what that did.

    Two adds (or an add and a remove) of one corpus run one after the other, rebuild
    included, so the last build to be swapped in always has every plan.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    lock = corpus_lock(corpus_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if say is not None:
            say(f"waiting for another kb add/remove of {corpus_dir} to finish …")
        lock.acquire()
    try:
        with _terminate_as_exit():
            done = recover(corpus_dir)
            if done and say is not None:
                say(done)
            yield done
    finally:
        lock.release()


__all__ = ["CHANGING", "DONE", "Intent", "corpus_lock", "exclusive", "journal_path", "recover",
           "stage_prefix", "trash_prefix", "write_atomic"]
