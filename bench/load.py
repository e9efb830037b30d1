"""Load test of the running app's search API (Gradio ``api_name="search"``) on loopback.

Starts ``app.py`` on 127.0.0.1 (a free port) over a copy of the index, then drives
``/search`` from this second process with a bounded number of concurrent clients
(gradio_client, one per worker thread) for a fixed time, in two phases:

1. steady: ``--concurrency`` clients for ``--seconds``;
2. rebuild: the same load while ``kb build`` rebuilds the app's index folder; the
   app keeps answering from the index it loaded until the rebuild swaps ``current``,
   then loads the new build in the background and switches to it between requests;
3. soak: ``--soak`` requests with the app's memory (anonymous and file-backed) sampled
   every fifth of the way.

Steady load is driven three ways: gradio_client (what a Python user of the Gradio API
runs), Gradio's HTTP call route with a light client, and the plain ``/api/search`` route.

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


class RestClient:
    """One keep-alive HTTP connection to the app's plain JSON route (kb.ui.rest)."""

    def __init__(self, url: str) -> None:
        import http.client
        import urllib.parse

        parsed = urllib.parse.urlparse(url)
        self.connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)

    def predict(self, query: str, city: str, doc: str, goal: str, k: int, api_name: str = "") -> dict:
        import json
        import urllib.parse

        params = urllib.parse.urlencode({"q": query, "city": city, "doc": doc, "goal": goal, "k": k})
        self.connection.request("GET", f"/api/search?{params}")
        response = self.connection.getresponse()
        return dict(json.loads(response.read()))


class GradioHttpClient(RestClient):
    """Gradio's own HTTP API without gradio_client: ``POST /gradio_api/call/search``, then
    read the event's result stream. The same queue as gradio_client, but a client light
    enough that the app, not the client, is what gets measured (gradio_client spends
    ~100 ms of CPU per call, which on a 2-core machine caps the test, not the app)."""

    def predict(self, query: str, city: str, doc: str, goal: str, k: int, api_name: str = "") -> dict:
        import json

        body = json.dumps({"data": [query, city, doc, goal, k]})
        self.connection.request("POST", "/gradio_api/call/search", body=body,
                                headers={"Content-Type": "application/json"})
        event = json.loads(self.connection.getresponse().read())["event_id"]
        self.connection.request("GET", f"/gradio_api/call/search/{event}")
        stream = self.connection.getresponse().read().decode("utf-8")
        for block in stream.split("\n\n"):
            if block.startswith("event: complete"):
                return dict(json.loads(block.split("data:", 1)[1])[0])
        return {"error": f"no result in the event stream: {stream[:120]!r}"}


def app_memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of the app process (Linux /proc): total, anonymous (heap: what a
    leak grows) and file-backed (memory-mapped dictionaries and model files: shared page
    cache that grows as queries touch more of them, up to the files' size)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return {"rss": values.get("VmRSS", 0.0), "anon": values.get("RssAnon", 0.0), "file": values.get("RssFile", 0.0)}


def drive(url: str, queries: list[str], concurrency: int, seconds: float, mode: str = "gradio",
          limit: int = MAX_REQUESTS) -> dict:
    """``concurrency`` workers send searches back to back until ``seconds`` pass (or ``limit`` requests).

    ``mode`` "gradio" calls the Gradio API with gradio_client (the event queue),
    "gradio-http" the same queue over plain HTTP, "rest" the plain ``/api/search`` route.
    """
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    sent = [0]

    def worker(offset: int) -> None:
        try:
            client = {"gradio": client_for, "gradio-http": GradioHttpClient, "rest": RestClient}[mode](url)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"client: {exc!r}")
            return
        i = offset
        while time.perf_counter() < deadline:
            with lock:
                if sent[0] >= limit:
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
    return {"mode": mode, "concurrency": concurrency, "seconds": wall, "requests": len(latencies), "errors": len(errors),
            "error_samples": errors[:5], "throughput_rps": len(latencies) / wall if wall else 0.0,
            "latency_ms": percentiles(latencies)}


def soak(url: str, pid: int, queries: list[str], total: int, concurrency: int, mode: str) -> dict:
    """``total`` requests in five steps, with the app's memory after each: a leak shows as
    anonymous memory that keeps growing instead of levelling off."""
    step = max(1, total // 5)
    samples = [{"requests": 0, **app_memory_mb(pid)}]
    errors = 0
    for done in range(step, total + 1, step):
        part = drive(url, queries, concurrency, 3600, mode=mode, limit=step)
        errors += part["errors"]
        samples.append({"requests": done, **app_memory_mb(pid)})
        print(f"soak ({mode}): {done} requests, app memory {samples[-1]}", flush=True)
    growth = samples[-1]["anon"] - samples[1]["anon"]
    return {"mode": mode, "samples": samples, "errors": errors,
            "anon_kb_per_request_after_first_step": round(growth * 1024 / max(1, total - step), 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rebuild-seconds", type=float, default=30)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--soak", type=int, default=10_000, help="requests of the memory soak (0: skip)")
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
            drive(url, queries, 2, 3, mode="rest")
            for mode in ("gradio", "gradio-http", "rest"):
                key = {"gradio": "steady", "gradio-http": "steady_gradio_http", "rest": "steady_rest"}[mode]
                result[key] = drive(url, queries, args.concurrency, args.seconds, mode=mode)
                print(f"{key}: {result[key]['requests']} requests, {result[key]['errors']} errors, "
                      f"{result[key]['throughput_rps']:.1f} req/s, p95 {result[key]['latency_ms']['p95']:.0f} ms", flush=True)
            if args.soak:
                result["soak"] = soak(url, app.pid, queries, args.soak, args.concurrency, "gradio-http")
            before = resolve_build(index)
            env = dict(os.environ, HF_HUB_OFFLINE="1")
            rebuild = subprocess.Popen([str(Path(sys.executable).with_name("kb")), "build", "--index", str(index)],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            result["during_rebuild"] = drive(url, queries, args.concurrency, args.rebuild_seconds, mode="rest")
            output, _ = rebuild.communicate(timeout=900)
            result["rebuild"] = {"returncode": rebuild.returncode, "swapped": resolve_build(index) != before,
                                 "output_tail": output[-400:]}
            time.sleep(5)  # the app notices the swap within a second and loads the new build in the background
            result["after_rebuild"] = drive(url, queries, 4, 3, mode="rest")
            print(f"during rebuild: {result['during_rebuild']['requests']} requests, "
                  f"{result['during_rebuild']['errors']} errors, p95 {result['during_rebuild']['latency_ms']['p95']:.0f} ms; "
                  f"rebuild rc {rebuild.returncode}, swapped {result['rebuild']['swapped']}", flush=True)
        finally:
            stop_app(app)
            app_log = (Path(tmp) / "app.log").read_text(errors="replace")
            result["app_log_tail"] = app_log[-1500:]
            result["switched_to_rebuild"] = "switched to the rebuilt index" in app_log
    result["load_after"] = load_average()
    if not args.no_save:
        save("load", result)
    return result


if __name__ == "__main__":
    main()
