"""Parse a plan into its outline: one parser per layout family, tried in order.

The first family whose ``claims`` accepts a document parses it; ``general`` (the
general outline detector) accepts everything, so a new plan gets an outline of its
numbered headings (第N章, 基本目標N, (1), ①, 【…】, ■ …) before anyone writes a family
parser for it.
"""

from __future__ import annotations

from types import ModuleType

from kb.ingest.corpus import Document
from kb.ingest.parse import comprehensive, general, kumamoto, strategy, vision, web
from kb.ingest.parse.kpi_lines import split_kpi_lines
from kb.ingest.parse.model import KpiTable, ParsedDocument, Section

#: Bump when parsing changes what chunks or spans come out; the index records it.
PARSER_VERSION = "5"

FAMILIES: tuple[ModuleType, ...] = (strategy, comprehensive, vision, kumamoto, web, general)


def family_for(doc: Document) -> ModuleType:
    return next(module for module in FAMILIES if module.claims(doc))


def parse_document(doc: Document) -> ParsedDocument:
    family = family_for(doc)
    parsed = family.parse(doc)
    if family is general:  # a plan no family knows: its KPI lines become KPI sections (kpi_lines.py)
        parsed.sections = split_kpi_lines(parsed.sections, doc.lines)
    return parsed


def kpi_tables(doc: Document, parsed: ParsedDocument) -> list[KpiTable]:
    """The KPI tables the document's family knows how to find (none for most families).

    A family exposes them through an optional ``kpi_tables(doc, parsed)`` hook, so
    :mod:`kb.kpi` reads tables without knowing any family's heading styles.
    """
    family = next((m for m in FAMILIES if parsed.family == m.FAMILY), None)
    hook = getattr(family, "kpi_tables", None)
    return list(hook(doc, parsed)) if hook is not None else []


__all__ = ["PARSER_VERSION", "KpiTable", "ParsedDocument", "Section", "family_for", "kpi_tables", "parse_document"]
