"""The running app under concurrent load on loopback, and bad input through its API.

A short version of ``python -m bench.load`` (which writes the full figures to
bench/results.md): the app is started on 127.0.0.1 over a copy of the real index,
8 clients search for a few seconds (zero errors), then keep searching while
``kb build`` rebuilds the app's index folder (zero errors: the app answers from the
index it loaded). Bad queries get a visible error message in the API's answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("gradio_client")
if not (ROOT / "app.py").is_file():  # pragma: no cover - the app is part of the project
    pytest.skip("app.py not present", allow_module_level=True)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, real_index):
    from bench.load import free_port, start_app, stop_app, wait_ready
    from kb.index.storage import resolve_build

    tmp = tmp_path_factory.mktemp("load")
    index = tmp / "index"
    shutil.copytree(resolve_build(real_index), index / "builds" / "seed")
    os.symlink(Path("builds") / "seed", index / "current")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = start_app(index, port, tmp / "app.log")
    try:
        wait_ready(url, app)
        yield url, index
    finally:
        stop_app(app)


def test_concurrent_searches_and_a_rebuild_have_no_errors(app_url):
    from bench.common import eval_queries
    from bench.load import drive
    from kb.index.storage import resolve_build

    url, index = app_url
    queries = [row["query"] for row in eval_queries()]
    steady = drive(url, queries, concurrency=8, seconds=5)
    assert steady["errors"] == 0, steady["error_samples"]
    assert steady["requests"] >= 8
    before = resolve_build(index)
    rebuild = subprocess.Popen([sys.executable, "-m", "kb.cli.main", "build", "--index", str(index)], cwd=ROOT,
                               env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    during = drive(url, queries, concurrency=8, seconds=5)
    output, _ = rebuild.communicate(timeout=600)
    assert rebuild.returncode == 0, output[-1000:]
    assert during["errors"] == 0, during["error_samples"]
    assert resolve_build(index) != before  # the rebuild really swapped the folder under the app
    after = drive(url, queries, concurrency=2, seconds=2)
    assert after["errors"] == 0, after["error_samples"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [("", "empty"), ("   ", "empty"), ("子" * 10_001, "too long"), ("abc\x07", "control")],
    ids=["empty", "whitespace", "10001-chars", "control"],
)
def test_bad_queries_get_a_visible_message(app_url, query, needle):
    from bench.load import client_for

    url, _ = app_url
    result = client_for(url).predict(query, "", "", "", 10, api_name="/search")
    assert result["hits"] == []
    assert needle in result["error"]


def test_a_lone_surrogate_gets_a_visible_message(app_url):
    """JSON can carry a lone surrogate as an escape (a browser's JSON.stringify makes one);
    gradio_client refuses to encode it, so the request is sent by hand."""
    import json
    import urllib.request

    url, _ = app_url
    body = b'{"data": ["\\ud800abc", "", "", "", 10]}'
    request = urllib.request.Request(url + "gradio_api/call/search", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/search/{event}", timeout=60) as response:
        stream = response.read().decode("utf-8")
    data = [line.removeprefix("data:").strip() for line in stream.splitlines() if line.startswith("data:")]
    result = json.loads(data[-1])[0]
    assert result["hits"] == [] and "Unicode" in result["error"]
