"""Editing ``corpus/manifest.toml`` as TOML: append a plan's entry, take one out.

The manifest is written by people too: comments on headers (``[[document]]  # note``),
comments between entries, CRLF line ends, ``[[ document ]]`` with spaces. Cutting it
with a regular expression dropped the wrong entry for such files, so it is parsed
with :mod:`tomlkit`, which keeps comments and layout, and every edit is checked with
:mod:`tomllib` afterwards: the result must hold exactly the entries it should, or the
edit is refused and the manifest left alone.

Appending is plain text at the end (in the file's own line ends): a ``[[document]]``
header always names the top-level array, so this is valid wherever the file ends and
changes nothing above it; a manifest written with an inline ``document = [...]`` array
is appended to through tomlkit instead. Removing goes through tomlkit; the blank lines
and comments that follow the removed entry (tomlkit files them under it, but they
introduce the next entry) are given back to what stays.
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table, Whitespace

from kb.errors import CorpusError


class ManifestEditError(CorpusError):
    """The manifest cannot be edited safely (the message says why and what to do)."""


def _load(text: str, what: str = "manifest.toml") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestEditError(f"{what} is not valid TOML ({exc}): fix it first") from None


def _documents(data: dict[str, Any]) -> list[Any]:
    documents = data.get("document", [])
    return list(documents) if isinstance(documents, list) else [documents]


def newline_of(text: str) -> str:
    """The line end the file uses (CRLF if its first line ends so), for lines kb adds."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def render_entry(fields: dict[str, str]) -> str:
    """One ``[[document]]`` block (tomlkit quotes and escapes the values), ``\\n`` line ends."""
    for key, value in fields.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ManifestEditError(f"the {key} {value!r} is not valid text (an unpaired surrogate)") from None
    table = tomlkit.table()
    for key, value in fields.items():
        table[key] = value
    entries = tomlkit.aot()
    entries.append(table)
    document = tomlkit.document()
    document.append("document", entries)
    return tomlkit.dumps(document)


def _check(result: str, expected: list[Any], before: dict[str, Any]) -> bool:
    try:
        after = tomllib.loads(result)
    except tomllib.TOMLDecodeError:
        return False
    rest_before = {k: v for k, v in before.items() if k != "document"}
    rest_after = {k: v for k, v in after.items() if k != "document"}
    return _documents(after) == expected and rest_after == rest_before


def with_entry(manifest: str, entry: str) -> str:
    """``manifest`` with the ``[[document]]`` block ``entry`` appended after one blank line.

    The exact inverse of :func:`without_entry` for a manifest that ends in one line end.
    """
    before = _load(manifest)
    added = _documents(_load(entry, "the new entry"))
    expected = _documents(before) + added
    newline = newline_of(manifest) if manifest else "\n"
    body = entry.strip("\n").replace("\n", newline) + newline
    text = manifest
    if text and not text.endswith("\n"):
        text += newline
    if text.strip():
        text += newline  # a blank line between entries
    result = text + body
    if _check(result, expected, before):
        return result
    # An inline `document = [...]` array (or another layout a header cannot extend): through tomlkit.
    try:
        document = tomlkit.parse(manifest)
        entries = document.get("document")
        if not isinstance(entries, list):
            raise ManifestEditError("manifest.toml: 'document' is not a list of tables")
        for item in added:
            entries.append(item)
        result = tomlkit.dumps(document)
    except TOMLKitError as exc:
        raise ManifestEditError(f"cannot add an entry to manifest.toml ({exc})") from None
    if not _check(result, expected, before):
        raise ManifestEditError("cannot add an entry to manifest.toml without changing the others: "
                                "write it as [[document]] tables (see the entries kb adds)")
    return result


def _trailing_trivia(table: Table) -> list[Any]:
    """Blank lines and comments at the end of ``table``'s body, taken off it (they lead into what follows)."""
    body = table.value.body
    tail: list[Any] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment | Whitespace):
        tail.insert(0, body.pop()[1])
    return tail


def _drop_one_line_end(body: list[Any]) -> None:
    """Take one line end off the blank lines ending ``body`` (the one :func:`with_entry` added)."""
    if body and body[-1][0] is None and isinstance(body[-1][1], Whitespace):
        blank = body[-1][1].as_string()
        shorter = blank[:-2] if blank.endswith("\r\n") else blank[:-1]
        body[-1] = (None, Whitespace(shorter))
        if not shorter:
            body.pop()


def without_entry(manifest: str, file_name: str) -> str:
    """``manifest`` minus the ``[[document]]`` entry whose ``file`` is ``file_name``.

    Other entries, comments and line ends stay; a manifest without that entry comes back
    unchanged. The result is checked to hold exactly the other entries, in order.
    """
    before = _load(manifest)
    documents = _documents(before)
    matches = [i for i, d in enumerate(documents) if isinstance(d, dict) and d.get("file") == file_name]
    if not matches:
        return manifest
    if len(matches) > 1:
        raise ManifestEditError(f"manifest.toml lists {file_name} {len(matches)} times: remove the extra entries by hand")
    index = matches[0]
    expected = documents[:index] + documents[index + 1:]
    try:
        document = tomlkit.parse(manifest)
        entries = document.get("document")
        if not isinstance(entries, AoT):
            raise ManifestEditError("manifest.toml: write its entries as [[document]] tables to let kb edit them")
        tables = entries.body
        tail = _trailing_trivia(tables[index])
        last = index == len(tables) - 1
        del entries[index]
        if index > 0:
            previous = tables[index - 1].value.body
            if last:  # the blank line before the removed entry goes; the file's own ending stays
                _drop_one_line_end(previous)
                previous.extend((None, item) for item in tail)
            elif any(isinstance(item, Comment) for item in tail):
                previous.extend((None, item) for item in tail if isinstance(item, Comment))
        elif last:  # the only entry: the blank line before it goes too
            position = next(i for i, (key, _) in enumerate(document.body) if key is not None and key.key == "document")
            preamble = document.body[:position]
            _drop_one_line_end(preamble)
            document.body[:position] = preamble + [(None, item) for item in tail]
        elif any(isinstance(item, Comment) for item in tail):
            # Comments that introduced the next entry go above it. tomlkit has no public insert, and
            # this document is only rendered (never looked up) from here on, so the body is edited in place.
            position = next(i for i, (key, _) in enumerate(document.body) if key is not None and key.key == "document")
            document.body[position:position] = [(None, item) for item in tail if isinstance(item, Comment)]
        result = document.as_string()
    except TOMLKitError as exc:
        raise ManifestEditError(f"cannot remove {file_name} from manifest.toml ({exc})") from None
    if not _check(result, expected, before):
        raise ManifestEditError(f"cannot remove {file_name} from manifest.toml without changing other entries: "
                                "remove its [[document]] table by hand")
    return result


def listed_files(manifest: str) -> list[str]:
    """The ``file`` of every entry (for ``kb remove``: only these may be removed)."""
    return [str(d.get("file", "")) for d in _documents(_load(manifest)) if isinstance(d, dict)]
