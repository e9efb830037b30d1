"""Text helpers shared by every stage: normalisation and joining wrapped lines.

Display text keeps the plan's own characters (full-width digits, ①, 「」); search text
is NFKC-normalised so that ＵＩＪターン, UIJターン and ｕｉｊターン meet.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

#: A line that ends with one of these closes a sentence, so the next line starts anew.
SENTENCE_END = tuple("。．！？!?")
BULLET_START = re.compile(r"^(?:[・⚫●○〇◇◆□■※]|-\s|－\s|\d+\.\s)")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """NFKC, no control characters, single spaces: the form lexical and dense search see."""
    text = nfkc(text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def clean_line(raw: str) -> str:
    """A raw line as shown to users: tabs become spaces, ends trimmed."""
    return _SPACES.sub(" ", raw.replace("\t", " ")).strip()


def ends_sentence(text: str) -> bool:
    text = text.rstrip()
    if not text:
        return True
    if text.endswith(SENTENCE_END):
        return True
    # 「…。」 and （…。） close a sentence too.
    return len(text) >= 2 and text[-1] in "」）)』" and text[-2] in "。．"


#: Used when a document gives no evidence of its own line width.
DEFAULT_WRAP_WIDTH = 30
#: Lines within this many characters of the width count as full (half-width
#: characters make wrapped lines of one page differ a little in length).
WRAP_SLACK = 6


def wrap_width(lines: Sequence[str]) -> int:
    """The width at which a PDF extraction wrapped this document's lines.

    Wrapped lines pile up at one length (about 38 characters in Kumamoto's plan, 50
    in Kurume's comprehensive plan); the most common length of unfinished lines of
    30+ characters finds it. A line that reaches it was cut by the layout; a shorter
    unfinished line (a bullet, a label) really ended.
    """
    lengths = Counter(
        len(text)
        for text in (clean_line(x) for x in lines)
        if len(text) >= DEFAULT_WRAP_WIDTH and not ends_sentence(text) and "\t" not in text
    )
    return lengths.most_common(1)[0][0] if lengths else DEFAULT_WRAP_WIDTH


def continues(previous: str, following: str, width: int = DEFAULT_WRAP_WIDTH) -> bool:
    """Whether ``following`` is the PDF-wrapped rest of ``previous``'s sentence."""
    return (
        bool(previous)
        and len(previous) >= width - WRAP_SLACK
        and not ends_sentence(previous)
        and not BULLET_START.match(following)
    )


def _needs_space(left: str, right: str) -> bool:
    return bool(left and right) and left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum()


def join_wrapped(parts: list[str], width: int = DEFAULT_WRAP_WIDTH) -> str:
    """Join raw lines for display, gluing lines that a PDF wrapped mid-sentence.

    Japanese has no spaces between words, so a wrapped line continues without a
    separator; a new bullet, a table row (a raw line with tabs) or a line after a
    finished sentence starts a new line.
    """
    out = ""
    prev_row = False
    for raw in parts:
        row = "\t" in raw.strip()
        part = clean_line(raw)
        if not part:
            continue
        if not out:
            out = part
        elif not row and not prev_row and continues(out.rsplit("\n", 1)[-1], part, width):
            out += (" " if _needs_space(out, part) else "") + part
        else:
            out += "\n" + part
        prev_row = row
    return out
