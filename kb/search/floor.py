"""The relevance floor: does a query share any real word with the plans?

Every query gets ranked hits, because some passage always scores best. For ``qzxwvkjh``
or ``' OR 1=1 --`` those hits are noise, and users should be told so instead of being
shown ten confident-looking passages. The test is lexical, on purpose: the encoders give
every string a neighbour (e5's best cosine for ``qzxwvkjh`` is 0.84, above that of some
real questions), while on the tune, dev and blind queries every real question, however
paraphrased, contains at least one content word (or, in English, one glossary phrase)
that the plans use, and nonsense contains none. Numbers do not count: ``1=1`` shares
only "1" with the plans.

A query that names only a generic word (今日の天気は？ shares 今日) passes the floor:
the floor flags what cannot be an answer, it does not judge topicality.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kb.analysis.lemmas import JapaneseAnalyzer
from kb.index.lexical import LexicalIndex

_NOT_A_WORD = re.compile(r"^[\W\d_]*$|^[a-z]$")


def meaningful(term: str) -> bool:
    """A term that can carry a topic: not a number, symbol run or lone Latin letter."""
    return not _NOT_A_WORD.match(term)


def clear_match(phrases: Mapping[str, float], analyzer: JapaneseAnalyzer, lexical: LexicalIndex) -> bool:
    """True when a content word of the query or of its translations/synonyms occurs in the index."""
    return any(
        meaningful(term) and lexical.has_term(term)
        for phrase in phrases
        for term in analyzer.terms(phrase)
    )
