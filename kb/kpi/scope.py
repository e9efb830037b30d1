"""Which cities and plans a KPI question may name: those the corpus's manifest lists.

``kb kpi --city`` used to accept only the three shipped cities plus cities that had KPI
records, so a plan added from another city was "unknown" to ``kb kpi`` although search and
compare accepted it. The choices come from the corpus itself (every plan's city and area,
KPIs or not), in the order the filters show them: the shipped cities first, then the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.ingest.corpus import CITY_CHOICES, load_corpus


@dataclass(frozen=True)
class KpiScope:
    cities: tuple[str, ...]
    documents: tuple[str, ...]

    def unknown_city(self, city: str) -> str:
        """The one-line error for a city no plan belongs to, naming the choices."""
        return f"unknown city {city!r} (choose from {', '.join(self.cities)}, or kurume, kumamoto, kouiki)"


def corpus_scope(corpus: Path | str) -> KpiScope:
    """The cities (city and area of every plan) and plan names of a corpus folder."""
    plans = load_corpus(Path(corpus))
    listed = {d.city for d in plans} | {d.area for d in plans if d.area}
    cities = [c for c in CITY_CHOICES if c in listed] + sorted(listed - set(CITY_CHOICES))
    return KpiScope(cities=tuple(cities), documents=tuple(sorted(d.doc for d in plans)))
