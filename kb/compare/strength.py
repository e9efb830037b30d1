"""How strong a pair of measures is, in the numbers the memo prints.

A pair's *contrast* (:class:`kb.compare.units.Similarity`) decides its words: at or above
:data:`STRONG` 強い対応, at or above :data:`THRESHOLD` 部分的, below it 対応なし. The memo
prints contrasts and thresholds with :data:`DIGITS` decimals, so the words are decided on
the printed number, not the unrounded one: otherwise a pair printed "+0.213" could read
部分的 under a legend saying 「強い対応: 0.213 以上」 (the threshold was 0.2133). Four decimals,
because the thresholds were tuned on that grid: three would move them, and the labelled pairs'
F0.5 with them. The thresholds themselves have
:data:`DIGITS` decimals (eval/compare/tune.py chooses them on that grid), so "printed value
≥ printed threshold" and the label never disagree. The weight and thresholds maximise F0.5
on eval/compare/pairs.jsonl (precision counts double: a false match hides a real "only in"
difference); eval/compare/results.md shows the choice.
"""

from __future__ import annotations

#: Decimals of every contrast and threshold the memo, CSV and app print.
DIGITS = 4
#: Share of the blended similarity that comes from the embeddings (the rest: lemma overlap).
DENSE_WEIGHT = 0.70
#: Printed contrast at or above this is a match (部分的 or better): F0.5-best on the labelled pairs.
THRESHOLD = 0.1473
#: Printed contrast of a 強い対応: the median contrast of the labelled matches kept by THRESHOLD.
STRONG = 0.2133

#: How a pair reads in words, strongest first; below THRESHOLD a pair is 対応なし.
STRONG_LABEL, PARTIAL_LABEL, NONE_LABEL = "強い対応", "部分的", "対応なし"


def shown(value: float) -> float:
    """The number as printed (``DIGITS`` decimals): labels are decided on this, so the
    printed value and the printed threshold always agree with the word next to them."""
    return float(f"{value:.{DIGITS}f}")


def label(contrast: float, strong: float = STRONG, partial: float = THRESHOLD) -> str:
    """強い対応 / 部分的 / 対応なし for a contrast, compared as printed."""
    value = shown(contrast)
    if value >= shown(strong):
        return STRONG_LABEL
    return PARTIAL_LABEL if value >= shown(partial) else NONE_LABEL


def formula(dense_weight: float = DENSE_WEIGHT) -> str:
    """The scoring rule for engineers (CLI --json, the app's details, docs); planners read
    the plain sentences in kb.compare.render instead."""
    return (f"対比 / contrast = similarity − mean similarity of both measures with the other plans' measures; "
            f"similarity = {dense_weight:.2f} × embedding cosine + {1 - dense_weight:.2f} × TF-IDF lemma cosine. "
            f"Strength is decided on the contrast rounded to {DIGITS} decimals; thresholds maximise F0.5 "
            "on eval/compare/pairs.jsonl (eval/compare/tune.py).")
