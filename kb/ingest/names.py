"""Document names: which plan a name a person typed (or a link carried) means.

A plan's name is its file name in ``corpus/`` without ``.txt`` — whatever the person who
added it called it: ``子育て支援計画``, ``ＡＢＣ市総合戦略``, ``kurume-kouiki-web``. So a name
is valid because the corpus has a plan by that name, never because its characters belong
to some alphabet (an ASCII-only rule is what kept Japanese plans out of the app's source
view). Every front end resolves a name the same way, here: the CLI (``kb show``, ``kb remove``),
the app's links and the source view.

What is refused before any lookup is what cannot be a file name in one folder: a path
separator, ``.``/``..`` or a leading dot, control or invisible format characters, and a name
longer than a file name may be. Such input is rejected with the reason, so a hand-edited
link or a mistyped command gets one clear line, and a name is never joined to a path
unchecked: callers only ever use the *known* name :func:`resolve_name` returns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Most file systems (ext4, APFS, NTFS) allow 255 bytes (UTF-8) in one file name.
FILE_NAME_BYTES = 255
#: The longest file kb writes for a plan is ``sources/<name>.pages.json``; a new name leaves room for it.
NEW_NAME_BYTES = FILE_NAME_BYTES - len(".pages.json")
#: Unicode categories a name may not contain: controls, invisible format characters (zero-width
#: spaces, bidi overrides that make a name read differently), lone surrogates, line separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SEPARATORS = ("/", "\\")
_SPACES = re.compile(r"\s+")
#: How much of a refused name a message repeats.
_SHOWN_CHARS = 60


def shown(name: str) -> str:
    """``name`` for a one-line message: quoted, escaped, and cut when very long."""
    text = name if len(name) <= _SHOWN_CHARS else name[: _SHOWN_CHARS - 1] + "…"
    return repr(text)


def name_problem(name: str, *, max_bytes: int = FILE_NAME_BYTES) -> str | None:
    """Why ``name`` cannot name a plan at all (a reason to put after the name), or None.

    None does not mean the plan exists: that is :func:`resolve_name`'s question.
    """
    if not name.strip():
        return "the name is empty"
    if any(sep in name for sep in _SEPARATORS):
        return "it contains a path separator ('/' or '\\'): give the document's name, not a path"
    if name.startswith("."):
        return "it starts with '.' (document names never do: no '..' or hidden files)"
    bad = next((c for c in name if unicodedata.category(c) in _REFUSED_CATEGORIES), None)
    if bad is not None:
        return f"it contains the control character U+{ord(bad):04X}: retype the name"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return f"it has {size} bytes (UTF-8) and a document name at most {max_bytes}: shorten it"
    return None


def spellings(name: str) -> list[str]:
    """What a person may write for the plan ``name``: as given, then with ``.txt`` dropped,
    composed (NFC: a name typed on a Mac arrives decomposed), and with its spaces made
    dashes (what ``kb add`` makes of a file name with spaces). Most specific first."""
    variants: list[str] = []
    for candidate in (name, name.strip()):
        stem = candidate[:-4] if candidate.casefold().endswith(".txt") else candidate
        for form in (candidate, stem):
            composed = unicodedata.normalize("NFC", form)
            variants += [form, composed, _SPACES.sub("-", composed.strip())]
    return list(dict.fromkeys(v for v in variants if v))


def loose_key(name: str) -> str:
    """The key two spellings of one name share: NFKC (full-width ＡＢＣ１ = ABC1), case-folded,
    spaces as dashes. Used only when no exact spelling matches, and only if one plan fits."""
    return _SPACES.sub("-", unicodedata.normalize("NFKC", name).strip()).casefold()


def resolve_name(name: str, known: Iterable[str]) -> str | None:
    """The known document ``name`` means, or None.

    Exact spellings (:func:`spellings`) win; otherwise a name whose :func:`loose_key` matches
    exactly one known document (``abc計画`` for ``ＡＢＣ計画``). Never a document the name only
    resembles in part.
    """
    if name_problem(name) is not None:
        return None
    names = list(known)
    exact = set(names)
    for spelling in spellings(name):
        if spelling in exact:
            return spelling
    key = loose_key(spellings(name)[-1])
    matches = [known_name for known_name in names if loose_key(known_name) == key]
    return matches[0] if len(matches) == 1 else None


def unknown_name_message(name: str, known: Iterable[str]) -> str:
    """Why ``name`` names no plan, and which plans there are: the one line every front end prints."""
    problem = name_problem(name)
    if problem is not None:
        return f"unknown document {shown(name)}: {problem}"
    listed = ", ".join(sorted(known)) or "none"
    return f"unknown document {shown(name)} (known: {listed})"
