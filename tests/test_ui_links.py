"""Absolute share links (the Compare tab's and the CSV ``link`` column) and the Japanese
too-long-query message: what leaves the page must work outside it."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from kb.compare.share import CompareState, PublicUrlError, absolute, encode
from kb.errors import KbError
from kb.search.searcher import MAX_QUERY_CHARS
from kb.ui import labels as L
from kb.ui.links import base_url
from kb.ui.service import SearchService
from kb.ui.state import UIState


def request(url: str, headers: dict[str, str] | None = None) -> SimpleNamespace:
    """A gr.Request as a queued event sees it: the page's call to Gradio's queue."""
    scheme, rest = url.split("://")
    host, _, path = rest.partition("/")
    path, _, query = ("/" + path).partition("?")
    raw = [(b"host", host.encode())] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "scheme": scheme, "server": (host.split(":")[0], 80), "path": path,
             "query_string": query.encode(), "headers": raw, "method": "POST"}
    return SimpleNamespace(request=Request(scope))


def test_absolute_puts_the_app_address_before_the_query():
    link = encode(CompareState("子育て支援", "久留米市", "熊本市"))
    assert absolute(link, "http://127.0.0.1:7860") == "http://127.0.0.1:7860/" + link
    assert absolute(link, "https://kb.city.example/plans") == "https://kb.city.example/plans/" + link
    assert absolute("?q=a", "https://kb.city.example/plans/") == "https://kb.city.example/plans/?q=a"
    assert absolute(link, "") == link  # no address known: the page's relative link still works
    with pytest.raises(PublicUrlError, match="KB_PUBLIC_URL") as caught:
        absolute(link, "kb.city.example")
    assert isinstance(caught.value, KbError)


def test_base_url_from_the_request_or_kb_public_url(monkeypatch):
    monkeypatch.delenv("KB_PUBLIC_URL", raising=False)
    assert base_url(request("http://127.0.0.1:7860/gradio_api/queue/join?q=a")) == "http://127.0.0.1:7860"
    behind_proxy = request("http://127.0.0.1:7860/gradio_api/queue/join",
                           {"X-Forwarded-Host": "kb.city.example", "X-Forwarded-Proto": "https"})
    assert base_url(behind_proxy) == "https://kb.city.example"
    assert base_url(None) == ""
    monkeypatch.setenv("KB_PUBLIC_URL", "https://plans.city.example/kb/")
    assert base_url(request("http://127.0.0.1:7860/gradio_api/queue/join")) == "https://plans.city.example/kb/"


def test_csv_link_column_is_absolute_and_carries_relevance(searcher, corpus_dir, tmp_path):
    service = SearchService(searcher, corpus_dir, workdir=tmp_path)
    view = service.search(UIState(q="子育て支援", city="熊本市", k=3), "http://kb.city.example:7860")
    assert view.csv_path is not None
    rows = list(csv.DictReader(io.StringIO(view.csv_path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3
    link = rows[0]["link"]
    assert link.startswith("http://kb.city.example:7860/?") and "city=" in link and "q=" in link
    assert all(r["relevance"].startswith("関連度") and 0 <= float(r["probability"]) <= 1 for r in rows)


def test_japanese_too_long_message_gives_the_limit_like_the_english_one(searcher):
    from kb.errors import QueryError

    with pytest.raises(QueryError) as caught:
        searcher.search("あ" * (MAX_QUERY_CHARS + 5))
    japanese = L.query_error_ja(str(caught.value))
    assert str(MAX_QUERY_CHARS) in japanese and str(MAX_QUERY_CHARS + 5) in japanese and "長すぎ" in japanese
