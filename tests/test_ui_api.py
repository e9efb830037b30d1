"""The app's named API endpoint "search", driven over HTTP as a load test would (no browser)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kb.present import CONTRACT_FIELDS


@pytest.fixture(scope="module")
def client(searcher, corpus_dir, tmp_path_factory):
    from gradio_client import Client

    from kb.ui.blocks import build_app, launch
    from kb.ui.service import SearchService

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = SearchService(searcher, corpus_dir, workdir=tmp_path_factory.mktemp("api"))
    demo = build_app(service)
    launch(demo, host="127.0.0.1", port=port, service=service, quiet=True, prevent_thread_lock=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


def _http(client, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(client.src.rstrip("/") + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def _gradio_call(client, data: list) -> dict:
    """Gradio's HTTP API without gradio_client: what a curl user or another language sends."""
    status, text = _http(client, "POST", "/gradio_api/call/search", {"data": data})
    assert status == 200, text
    _, stream = _http(client, "GET", f"/gradio_api/call/search/{json.loads(text)['event_id']}")
    for block in stream.split("\n\n"):
        if block.startswith("event: complete"):
            return json.loads(block.split("data:", 1)[1])[0]
        if block.startswith("event: error"):
            detail = json.loads(block.split("data:", 1)[1])
            return {"error": detail.get("error") if isinstance(detail, dict) else detail, "hits": []}
    raise AssertionError(f"no result: {stream[:300]}")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (["子育て支援", "", "", "", "Infinity"], "k must be a whole number"),
        (["子育て支援", "", "", "", float("nan")], "k must be a whole number"),
        (["子育て支援", "", "", "", 10**30], "k must be between"),
        ([None, "", "", "", 5], "empty"),
        ([["not", "text"], "", "", "", 5], "must be text"),
    ],
)
def test_odd_arguments_get_an_error_message_not_null(client, data, error):
    answer = _gradio_call(client, data)
    assert answer["hits"] == [] and error in (answer.get("error") or ""), answer


def test_a_short_argument_list_is_refused_with_a_message(client):
    """Gradio checks the argument count before kb sees the call; the caller must still learn why."""
    answer = _gradio_call(client, ["子育て支援"])
    assert answer["hits"] == [] and "needed: 5, got: 1" in (answer["error"] or "")


def test_the_plain_json_route(client):
    status, text = _http(client, "GET", "/api/search?" + urllib.parse.urlencode({"q": "若い女性の転出", "k": 3}))
    answer = json.loads(text)
    assert status == 200 and len(answer["hits"]) == 3
    assert all(set(CONTRACT_FIELDS) <= set(hit) for hit in answer["hits"])
    status, text = _http(client, "GET", "/api/search?q=%E5%AD%90&k=inf")
    assert status == 400 and "whole number" in json.loads(text)["error"]


def test_uploads_are_limited_in_size(client):
    boundary = "kbtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode() + b"x" * (51 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(client.src.rstrip("/") + "/gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413


def test_search_endpoint_returns_the_json_contract(client):
    answer = client.predict(query="若い女性の転出", k=5, api_name="/search")
    assert answer["query"] == "若い女性の転出" and "→" in answer["interpretation"]
    assert len(answer["hits"]) == 5
    assert all(set(CONTRACT_FIELDS) <= set(hit) for hit in answer["hits"])
    kumamoto = client.predict(query="観光", city="熊本市", k=3, api_name="/search")
    assert {hit["city"] for hit in kumamoto["hits"]} == {"熊本市"}


def test_search_endpoint_reports_bad_input_as_data(client):
    answer = client.predict(query="\x00\x01", api_name="/search")
    assert answer["hits"] == [] and "control characters" in answer["error"]


def test_only_the_search_endpoint_is_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/search"]
