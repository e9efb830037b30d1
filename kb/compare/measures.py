"""A unit as a comparison shows it: retrieval score, KPIs and the first line of its body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.chunk import Chunk
from kb.compare.units import Aligner, Unit, clean_title
from kb.kpi.extract import Kpi, kpis_for_chunk

_SUMMARY_LIMIT = 90


@dataclass(frozen=True)
class Measure:
    """A measure as the comparison shows it: its unit, retrieval score, KPIs and first line of body."""

    unit: Unit
    score: float
    kpis: tuple[Kpi, ...] = ()
    retrieved: bool = True
    summary: str = ""


def summary_line(unit: Unit, chunks: Sequence[Chunk]) -> str:
    """The first line of the measure's body that is not its heading, cut to one line."""
    heading = clean_title(unit.heading_path[-1])
    for chunk_id in unit.chunk_ids:
        for line in chunks[chunk_id].text.splitlines():
            text = clean_title(line).lstrip("・●○■□◆◇")
            if len(text) >= 6 and text not in heading and not any(text in h for h in unit.heading_path):
                return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1] + "…"
    return ""


def measure_of(unit: Unit, score: float, kpis: Sequence[Kpi], aligner: Aligner, retrieved: bool = True) -> Measure:
    """The unit with its KPIs (those of its first chunk's section) and summary line."""
    primary = aligner.chunks[unit.chunk_ids[0]]
    return Measure(unit=unit, score=score, kpis=tuple(kpis_for_chunk(primary, kpis)), retrieved=retrieved,
                   summary=summary_line(unit, aligner.chunks))
