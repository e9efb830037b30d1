"""KPI lookup for result cards: the KPI tables of a hit's own measure, most specific first."""

from __future__ import annotations

from kb.chunk import Chunk
from kb.ui.kpis import KpiLookup, kpi_chunks_for, kpi_scope


def make(cid: str, path: tuple[str, ...], kind: str = "measure", doc: str = "plan") -> Chunk:
    start = int(cid)
    return Chunk(id=f"{doc}:{cid}", doc=doc, city="熊本市", area="熊本市", title="Plan", heading_path=path,
                 kind=kind, goal=path[1] if len(path) > 1 else "", line_start=start, line_end=start + 1,
                 lines=(start, start + 1), text=f"text {cid}", search_text="", embed_text="")


GOAL = ("2 基本戦略", "基本目標１")
MEASURE = GOAL + ("(１) しごと", "① 新事業")
CHUNKS = [
    make("10", GOAL, "goal"),
    make("20", MEASURE),
    make("30", GOAL + ("数値目標",), "kpi"),
    make("40", GOAL + ("(１) しごと", "KPI"), "kpi"),
    make("50", GOAL + ("(２) 農業", "KPI"), "kpi"),
    make("60", ("参考資料",), "kpi"),
    make("70", MEASURE, doc="other"),
]


def test_scope_drops_the_kpi_label_only():
    assert kpi_scope(CHUNKS[3]) == GOAL + ("(１) しごと",)
    assert kpi_scope(CHUNKS[2]) == GOAL
    evaluation = make("80", ("第2章", "評価", "施策分野1 経済"), "kpi")
    assert kpi_scope(evaluation) == ("第2章", "評価", "施策分野1 経済")


def test_measure_gets_its_own_table_not_the_goal_target():
    assert [c.id for c in kpi_chunks_for(CHUNKS[1], CHUNKS)] == ["plan:40"]


def test_goal_gets_its_numeric_targets():
    assert [c.id for c in kpi_chunks_for(CHUNKS[0], CHUNKS)] == ["plan:30"]


def test_no_kpis_across_documents_for_tables_or_from_top_level_summaries():
    assert kpi_chunks_for(CHUNKS[6], CHUNKS) == []  # same path, other document
    assert kpi_chunks_for(CHUNKS[3], CHUNKS) == []  # a KPI table has no KPIs of its own
    lone = make("90", ("参考資料", "施策１"))
    assert kpi_chunks_for(lone, CHUNKS) == []  # ("参考資料",) is too broad a scope


def test_lookup_on_real_plans(chunks):
    everything = [c for doc_chunks in chunks.values() for c in doc_chunks]
    lookup = KpiLookup(everything)
    kumamoto = chunks["kumamoto-sousei-senryaku-2"]
    measure = next(c for c in kumamoto if c.kind == "measure" and "① 若者の結婚・出産" in c.heading_path[-1])
    entries = lookup(measure)
    assert len(entries) == 1
    assert entries[0].label == "KPI"
    assert "出生数" in entries[0].text
    assert entries[0].doc == measure.doc and entries[0].line_start > measure.line_end
    vision = chunks["kurume-kouiki-vision-3"]
    cooperation = [c for c in vision if c.kind == "measure" and "(1) 圏域全体の経済成長のけん引分野" in c.heading_path]
    assert cooperation, "the vision's field (1) has cooperation projects"
    assert any("圏域の総生産額" in e.text for e in lookup(cooperation[0]))
