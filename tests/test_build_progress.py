"""Build progress without a terminal (``./run.sh > log``): plain lines that show the build moving."""

from __future__ import annotations

import io

from rich.console import Console

from kb.cli.progress import PlainProgress, build_progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_at_each_tenth_and_every_few_seconds_not_every_batch():
    lines: list[str] = []
    clock = Clock()
    report = PlainProgress(lines.append, every_s=5.0, clock=clock)
    for done in range(0, 1001, 8):  # 126 batches of 8 in one second
        clock.now += 0.008
        report("embed", min(done, 1000), 1000)
    assert lines[0] == "embed: started (1000)"
    steps = [line.split("(")[1].split("%")[0] for line in lines[1:]]
    assert steps == [str(p) for p in range(10, 101, 10)]  # one line per 10 %, not per batch
    assert lines[-1].endswith("done")

    slow: list[str] = []
    clock.now = 0.0
    report = PlainProgress(slow.append, every_s=5.0, clock=clock)
    for second in range(31):  # 31 s inside the first 10 %: a heartbeat every 5 s
        clock.now = float(second)
        report("embed", second, 1000)
    assert len(slow) == 1 + 6 and slow[-1] == "embed: 30/1000 (0%) 30 s"


def test_a_stage_with_nothing_to_do_says_so_once():
    lines: list[str] = []
    report = PlainProgress(lines.append, clock=Clock())
    report("embed", 0, 0)
    report("embed", 0, 0)
    assert lines == ["embed: started", "embed: 0 s done"]


def test_no_terminal_gets_lines_a_terminal_gets_bars():
    out = io.StringIO()
    context, report = build_progress(Console(file=out, force_terminal=False))
    with context:
        report("parse", 5, 5)
    assert out.getvalue().splitlines() == ["parse: started (5)", "parse: 5/5 (100%) 0 s done"]

    from rich.progress import Progress

    context, _ = build_progress(Console(file=io.StringIO(), force_terminal=True))
    assert isinstance(context, Progress)
    context, _ = build_progress(Console(file=io.StringIO(), force_terminal=False), forced=True)
    assert isinstance(context, Progress)  # KB_PROGRESS=1
