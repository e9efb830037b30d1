"""Build progress for the CLI: a rich bar on a terminal, plain lines everywhere else.

``./run.sh`` piped into a log (or started by a service manager) has no terminal, and a
disabled bar left minutes of silence while the plans were embedded: did it hang? Without
a terminal each stage therefore prints a line when it starts, about every
:data:`EVERY_S` seconds or :data:`EVERY_PERCENT` % after that, and when it is done —
enough to see it move, not so much that a log fills up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

#: A plain progress line at least this often (seconds) while a stage moves …
EVERY_S = 5.0
#: … and at every step of this many percent.
EVERY_PERCENT = 10

Report = Callable[[str, int, int], None]


@dataclass
class _Stage:
    started: float
    printed: float
    step: int = 0
    finished: bool = False


@dataclass
class PlainProgress:
    """``report(stage, done, total)`` → occasional ``embed 1200/3400 (35%) 42 s`` lines via ``write``."""

    write: Callable[[str], None]
    every_s: float = EVERY_S
    every_percent: int = EVERY_PERCENT
    clock: Callable[[], float] = time.monotonic
    _stages: dict[str, _Stage] = field(default_factory=dict)

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        state = self._stages.get(stage)
        if state is None:
            state = self._stages[stage] = _Stage(started=now, printed=now)
            self.write(f"{stage}: started" + (f" ({total})" if total else ""))
        if state.finished:
            return
        finished = total <= 0 or done >= total
        step = 100 if finished else done * 100 // total // self.every_percent * self.every_percent
        if not (finished or step > state.step or now - state.printed >= self.every_s):
            return
        state.step, state.printed, state.finished = max(step, state.step), now, finished
        counted = f" {done}/{total} ({step}%)" if total > 0 else ""
        self.write(f"{stage}:{counted} {now - state.started:.0f} s" + (" done" if finished else ""))


def build_progress(console: Console, *, forced: bool = False) -> tuple[contextlib.AbstractContextManager[object], Report]:
    """A context to hold while building and the ``progress`` callback that reports into it.

    A terminal (or ``forced``, ``KB_PROGRESS=1``) gets rich's bars; anything else gets
    :class:`PlainProgress` lines on the same console (stderr), flushed as they come.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not console.is_terminal and not forced:
        def write(line: str) -> None:
            console.print(line, highlight=False, soft_wrap=True)
            console.file.flush()

        return contextlib.nullcontext(), PlainProgress(write)
    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=False)
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or 1)
        bar.update(tasks[stage], completed=done if total else 1, total=total or 1)

    return bar, report
