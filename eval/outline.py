"""Print how the general outline detector compares with the family parsers on the five plans.

Usage: .venv/bin/python eval/outline.py [--corpus corpus]
Heading lines are matched by line number; goal/measure/kpi columns read "family → general".
"""

from __future__ import annotations

import argparse

from kb.evaluation.outline import evaluate, fixture_report, fixture_scores, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="corpus")
    args = parser.parse_args()
    print(report(evaluate(args.corpus)))
    print()
    print(fixture_report(fixture_scores()))


if __name__ == "__main__":
    main()
