"""The app's named API endpoint "search", driven over HTTP as a load test would (no browser)."""

from __future__ import annotations

import socket

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
    demo = build_app(SearchService(searcher, corpus_dir, workdir=tmp_path_factory.mktemp("api")))
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


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
