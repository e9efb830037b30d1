"""Shared helpers: percentiles, memory sampling, child processes, the results store."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = BENCH / "out"
PYTHON = sys.executable


def percentiles(samples_s, points=(50, 95, 99)) -> dict[str, float]:
    """Milliseconds at the given percentiles of samples in seconds (empty → NaN)."""
    values = np.asarray(list(samples_s), dtype=float) * 1000.0
    if not len(values):
        return {f"p{p}": float("nan") for p in points}
    return {f"p{p}": float(np.percentile(values, p)) for p in points} | {"n": len(values)}


def rss_mb() -> float:
    """Resident memory of this process now (MiB)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_parts_mb() -> dict[str, float]:
    """Resident memory split as the kernel counts it: anonymous (heap: what the process
    needs for itself) and file-backed (mapped files' pages: page cache the kernel can drop)."""
    parts = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key = line.split(":")[0]
            if key in ("RssAnon", "RssFile", "RssShmem"):
                parts[key] = int(line.split()[1]) / 1024
    return parts


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB), from the kernel's high-water mark."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemorySampler:
    """Samples RSS every ``interval`` seconds, attributing each sample to the current stage."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mb()
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), value)
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        self._stop.set()
        self._thread.join()
        value = rss_mb()
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), value)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": load_average(),
    }


def run_child(module: str, args: list[str], *, env: dict | None = None, timeout: float = 3600) -> dict:
    """Run ``python -m module args`` and return the JSON object it prints last on stdout."""
    environment = dict(os.environ, HF_HUB_OFFLINE="1", **(env or {}))
    started = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-m", module, *args], check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1])
    result.setdefault("child_wall_s", wall)
    return result


def dispatch(children: dict, main) -> None:  # type: ignore[no-untyped-def]
    """``python -m bench.X CHILD ARG…`` runs one child measurement and prints its JSON (what
    :func:`run_child` reads back); any other command line runs ``main``."""
    argv = sys.argv[1:]
    child = children.get(argv[0]) if argv else None
    if child is None:
        main()
        return
    print(json.dumps(child(*argv[1:])))


def save(section: str, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    data = dict(data, measured_at=time.strftime("%Y-%m-%d %H:%M:%S"), machine=machine())
    path = OUT / f"{section}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def load(section: str) -> dict | None:
    path = OUT / f"{section}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def eval_queries(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]
