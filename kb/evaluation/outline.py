"""How well the general outline detector recovers the outlines the family parsers know.

The five plans have hand-written family parsers, so their outlines are the best gold
there is for a parser that has never seen them: run :mod:`kb.ingest.parse.general`
alone on each plan (families switched off) and compare heading lines (precision and
recall, matched by line number) and goal/measure/kpi counts. ``eval/outline.py`` prints
the table; ``tests/test_outline_general.py`` keeps floors under it.

The five plans are also what the detector was tuned on, so small invented plans in other
layouts (``tests/fixtures/plans/layout_*.txt``, each with a hand-written ``.gold.toml`` of
its goal and measure heading lines) check that its rules carry over: :func:`fixture_scores`.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from kb.ingest.corpus import Document, load_corpus, split_lines
from kb.ingest.parse import family_for, general
from kb.ingest.parse.model import GOAL, KPI, MEASURE, ParsedDocument


@dataclass(frozen=True)
class OutlineScore:
    doc: str
    family: str
    gold_headings: int
    found_headings: int
    matched: int
    gold_kinds: dict[str, int]
    found_kinds: dict[str, int]
    #: Matched heading lines whose section has the same kind in both outlines.
    same_kind: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.found_headings if self.found_headings else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold_headings if self.gold_headings else 0.0

    @property
    def kind_agreement(self) -> float:
        return self.same_kind / self.matched if self.matched else 0.0


def heading_lines(parsed: ParsedDocument) -> set[int]:
    """Every line some section holds as (part of) its title."""
    return {n for s in parsed.sections for n in s.heading}


def heading_kinds(parsed: ParsedDocument) -> dict[int, str]:
    """Heading line → kind of the section it titles."""
    return {n: str(s.kind) for s in parsed.sections for n in s.heading}


def kind_counts(parsed: ParsedDocument) -> dict[str, int]:
    counts = Counter(str(s.kind) for s in parsed.sections if s.heading)
    return {str(k): counts.get(str(k), 0) for k in (GOAL, MEASURE, KPI)}


def score(doc: Document) -> OutlineScore:
    family = family_for(doc)
    gold = family.parse(doc)
    found = general.parse(doc)
    gold_lines, found_lines = heading_lines(gold), heading_lines(found)
    gold_kind, found_kind = heading_kinds(gold), heading_kinds(found)
    both = gold_lines & found_lines
    return OutlineScore(
        doc=doc.doc, family=family.FAMILY, gold_headings=len(gold_lines), found_headings=len(found_lines),
        matched=len(both), gold_kinds=kind_counts(gold), found_kinds=kind_counts(found),
        same_kind=sum(gold_kind[n] == found_kind[n] for n in both),
    )


def evaluate(corpus_dir: Path | str = "corpus") -> list[OutlineScore]:
    return [score(doc) for doc in load_corpus(Path(corpus_dir))]


def report(scores: list[OutlineScore]) -> str:
    """A Markdown table: heading P/R and goal/measure/kpi counts (family → general)."""
    rows = [
        "| plan | family | headings gold/found | precision | recall | same kind | goal | measure | kpi |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        kinds = " | ".join(f"{s.gold_kinds[k]} → {s.found_kinds[k]}" for k in (GOAL, MEASURE, KPI))
        rows.append(f"| {s.doc} | {s.family} | {s.gold_headings}/{s.found_headings} | {s.precision:.2f} | "
                    f"{s.recall:.2f} | {s.kind_agreement:.2f} | {kinds} |")
    matched = sum(s.matched for s in scores)
    gold = sum(s.gold_headings for s in scores)
    found = sum(s.found_headings for s in scores)
    same = sum(s.same_kind for s in scores)
    rows.append(f"| **all** | | {gold}/{found} | {matched / found:.2f} | {matched / gold:.2f} | {same / matched:.2f} | | | |")
    return "\n".join(rows)


#: The invented layouts (one heading or paragraph a line, as kb's PDF import writes them).
FIXTURE_PLANS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "plans"


@dataclass(frozen=True)
class FixtureScore:
    """Goal/measure heading lines of a hand-labelled plan that the detector titles with the right kind."""

    plan: str
    gold: int
    found: int
    #: Gold lines found as headings at all, whatever their kind.
    headed: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0


def fixture_document(path: Path) -> Document:
    """A plan text outside the corpus as a :class:`Document` (title = its first line)."""
    lines = split_lines(path.read_text(encoding="utf-8"))
    base = Document(doc=path.stem, path=path, title=lines[0].strip(), city="", area="", municipality="")
    return replace(base, lines=lines)


def gold_lines(lines: tuple[str, ...] | list[str], gold: dict[str, list[str]]) -> dict[int, str]:
    """Line number → kind for every gold heading text, each matched to its next unused occurrence."""
    result: dict[int, str] = {}
    for kind, texts in gold.items():
        for text in texts:
            number = next((n for n, raw in enumerate(lines, start=1) if raw.strip() == text and n not in result), None)
            if number is None:
                raise ValueError(f"gold heading not in the plan: {text}")
            result[number] = kind
    return result


def fixture_score(path: Path) -> FixtureScore:
    doc = fixture_document(path)
    gold = gold_lines(doc.lines, tomllib.loads(path.with_suffix(".gold.toml").read_text(encoding="utf-8")))
    kinds = heading_kinds(general.parse(doc))
    return FixtureScore(plan=path.name, gold=len(gold), found=sum(kinds.get(n) == k for n, k in gold.items()),
                        headed=sum(n in kinds for n in gold))


def fixture_scores(folder: Path = FIXTURE_PLANS) -> list[FixtureScore]:
    return [fixture_score(p) for p in sorted(folder.glob("layout_*.txt"))]


def fixture_report(scores: list[FixtureScore]) -> str:
    rows = ["| invented plan | gold goal+measure headings | found as headings | with the right kind | recall |",
            "|---|---|---|---|---|"]
    rows += [f"| {s.plan} | {s.gold} | {s.headed} | {s.found} | {s.recall:.2f} |" for s in scores]
    return "\n".join(rows)
