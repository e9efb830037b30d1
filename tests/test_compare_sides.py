"""Issue 16: any two sides, the memo (one row per measure), strength words, the shareable
URL and --left/--right on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.compare.align import (
    LEFT,
    RIGHT,
    STRONG,
    THRESHOLD,
    Side,
    SideError,
    Similarity,
    compare,
    resolve_side,
    strength,
)
from kb.compare.share import CompareState, decode, encode
from kb.ingest.corpus import KUMAMOTO, KURUME, WIDE_AREA

ROOT = Path(__file__).resolve().parents[1]
DOCS = {"kurume-kouiki-vision-3": {"city": KURUME, "area": WIDE_AREA, "title": "ビジョン"},
        "kumamoto-sousei-senryaku-2": {"city": KUMAMOTO, "area": KUMAMOTO, "title": "戦略"}}


def test_sides_resolve_from_aliases_and_documents():
    assert resolve_side("kurume", DOCS) == LEFT and resolve_side("熊本", DOCS) == RIGHT
    assert resolve_side("kouiki", DOCS) == Side(WIDE_AREA, city=WIDE_AREA)
    assert resolve_side("kurume-kouiki-vision-3", DOCS).doc == "kurume-kouiki-vision-3"
    with pytest.raises(SideError, match="unknown side 'fukuoka'"):
        resolve_side("fukuoka", DOCS)


def test_strength_words_follow_the_thresholds():
    def sim(contrast: float) -> Similarity:
        return Similarity(0.8, 0.9, 0.2, contrast)

    assert THRESHOLD < STRONG
    assert [strength(sim(c)) for c in (STRONG, THRESHOLD, THRESHOLD - 1e-4)] == ["強い対応", "部分的", "対応なし"]


def test_share_url_round_trip():
    state = CompareState("若い女性の転出", KUMAMOTO, "kurume-kouiki-vision-3")
    url = encode(state)
    assert url.startswith("?tab=compare&topic=") and decode(url) == state
    assert decode("?tab=search&q=x") is None
    assert decode("?tab=compare") == CompareState()


def test_two_non_default_sides_and_one_row_per_measure(searcher):
    wide = Side(WIDE_AREA, city=WIDE_AREA)
    result = compare(searcher, "観光", left=RIGHT, right=wide)
    assert result.left_measures and result.right_measures
    assert all(m.unit.city == KUMAMOTO for m in result.left_measures)
    assert all(m.unit.area == WIDE_AREA for m in result.right_measures)
    rows = [r.measure.unit.index for r in result.rows]
    assert len(rows) == len(set(rows))  # one measure, one row
    assert all(c.strength in ("強い対応", "部分的") for r in result.rows for c in r.counterparts)
    with pytest.raises(SideError):
        compare(searcher, "観光", left=RIGHT, right=RIGHT)


def test_weak_pairs_leave_only_in_lists(searcher):
    for topic in ("観光", "若い女性の転出"):
        result = compare(searcher, topic)
        assert result.only_left or result.only_right, topic
    women = compare(searcher, "若い女性の転出")
    assert not any(p.left.unit.name.startswith("施策28") and p.right.unit.name.startswith("Ⅲ") for p in women.pairs)


def kb(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "kb.cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_left_right(real_index):
    ok = kb("compare", "観光", "--left", "kumamoto", "--right", "kouiki", "--index", str(real_index))
    assert ok.returncode == 0, ok.stderr
    assert "熊本市 × 広域" in ok.stdout and "## 広域のみ / Only in 広域" in ok.stdout
    bad = kb("compare", "観光", "--left", "fukuoka", "--index", str(real_index))
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown side 'fukuoka'") and bad.stderr.count("\n") == 1
