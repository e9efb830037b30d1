"""Cut very long text into pieces the tokenisers can take.

MeCab (under fugashi) crashes the whole process on a single line of ~600k characters and
Sudachi refuses inputs over ~49 KB, while a PDF extraction without line breaks can easily
be megabytes long. Chunks of the plans are under 1,000 characters, so pieces of
:data:`PIECE_CHARS` never split one of them; longer text is cut at the last sentence end,
line break or space before the limit, so only an unbroken run loses a word boundary.
"""

from __future__ import annotations

from collections.abc import Iterator

#: Characters per piece: far under both tokenisers' limits (Sudachi: 49,149 bytes ≈ 16k kana).
PIECE_CHARS = 8000
_BREAKS = ("。", "\n", "．", "！", "？", " ", "、", "　")


def pieces(text: str, limit: int = PIECE_CHARS) -> Iterator[str]:
    """``text`` itself when it is short enough, else consecutive pieces of at most ``limit``."""
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind(mark) for mark in _BREAKS)
        end = start + (cut + 1 if cut > limit // 2 else limit)
        yield text[start:end]
        start = end
    if start < len(text) or not text:
        yield text[start:]
