"""Load test of the running app's search API (Gradio ``api_name="search"``) on loopback.

Starts ``app.py`` on 127.0.0.1 (a free port) over a copy of the index, then drives
``/search`` from this second process with a bounded number of concurrent clients
(gradio_client, one per worker thread) for a fixed time, in two phases:

1. steady: ``--concurrency`` clients for ``--seconds``;
2. rebuild: the same load while ``kb build`` rebuilds the app's index folder; the
   app keeps answering from the index it loaded (the rebuild swaps ``current``
   atomically and the running searcher never reads the new files).

Every answer is checked: no exception, no ``error`` field, at least one hit.
Requests only go to 127.0.0.1, are bounded in number and time, and stop by themselves.

Usage: python -m bench.load [--concurrency 16] [--seconds 30] [--rebuild-seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ROOT, eval_queries, load_average, percentiles, save

MAX_REQUESTS = 20_000  # hard bound per phase, whatever the timing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_app(index: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", KB_INDEX=str(index))
    log = log_path.open("w")
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                             "--index", str(index), "--corpus", str(ROOT / "corpus")],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_app(process: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate an app process, killing it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> float:
    import urllib.request

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the app did not answer at {url} within {timeout} s")


def client_for(url: str):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def drive(url: str, queries: list[str], concurrency: int, seconds: float) -> dict:
    """``concurrency`` workers send searches back to back until ``seconds`` pass."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    sent = [0]

    def worker(offset: int) -> None:
        try:
            client = client_for(url)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"client: {exc!r}")
            return
        i = offset
        while time.perf_counter() < deadline:
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    return
                sent[0] += 1
            query = queries[i % len(queries)]
            i += concurrency
            started = time.perf_counter()
            try:
                result = client.predict(query, "", "", "", 10, api_name="/search")
                elapsed = time.perf_counter() - started
                problem = result.get("error") if isinstance(result, dict) else f"not a dict: {type(result)}"
                if not problem and not result.get("hits"):
                    problem = "no hits"
            except Exception as exc:  # noqa: BLE001
                elapsed, problem = time.perf_counter() - started, repr(exc)
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(f"{query[:30]}: {problem}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    wall = time.perf_counter() - started
    return {"concurrency": concurrency, "seconds": wall, "requests": len(latencies), "errors": len(errors),
            "error_samples": errors[:5], "throughput_rps": len(latencies) / wall if wall else 0.0,
            "latency_ms": percentiles(latencies)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rebuild-seconds", type=float, default=30)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    queries = [row["query"] for row in eval_queries()]
    result: dict = {"load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="kb-bench-load-") as tmp:
        index = Path(tmp) / "index"
        from kb.index.storage import resolve_build

        shutil.copytree(resolve_build(args.index), index / "builds" / "seed")
        os.symlink(Path("builds") / "seed", index / "current")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        app = start_app(index, port, Path(tmp) / "app.log")
        try:
            result["app_start_s"] = wait_ready(url, app)
            drive(url, queries, 2, 3)  # warm-up
            result["steady"] = drive(url, queries, args.concurrency, args.seconds)
            print(f"steady: {result['steady']['requests']} requests, {result['steady']['errors']} errors, "
                  f"{result['steady']['throughput_rps']:.1f} req/s, p95 {result['steady']['latency_ms']['p95']:.0f} ms", flush=True)
            before = resolve_build(index)
            env = dict(os.environ, HF_HUB_OFFLINE="1")
            rebuild = subprocess.Popen([str(Path(sys.executable).with_name("kb")), "build", "--index", str(index)],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            result["during_rebuild"] = drive(url, queries, args.concurrency, args.rebuild_seconds)
            output, _ = rebuild.communicate(timeout=900)
            result["rebuild"] = {"returncode": rebuild.returncode, "swapped": resolve_build(index) != before,
                                 "output_tail": output[-400:]}
            result["after_rebuild"] = drive(url, queries, 4, 3)
            print(f"during rebuild: {result['during_rebuild']['requests']} requests, "
                  f"{result['during_rebuild']['errors']} errors, p95 {result['during_rebuild']['latency_ms']['p95']:.0f} ms; "
                  f"rebuild rc {rebuild.returncode}, swapped {result['rebuild']['swapped']}", flush=True)
        finally:
            stop_app(app)
            result["app_log_tail"] = (Path(tmp) / "app.log").read_text(errors="replace")[-1500:]
    result["load_after"] = load_average()
    if not args.no_save:
        save("load", result)
    return result


if __name__ == "__main__":
    main()
