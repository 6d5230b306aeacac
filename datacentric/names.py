"""Class names: one rule for every label that enters a project.

A class name is data. It ends up in file names (``generated/synthetic/<class>/``),
reports and shell commands we suggest, so it is checked once, where it enters
(import, relabel, Label Studio pull, ``init --classes``, ``datacentric.toml``):

- surrounding white space is stripped;
- it must not be empty, longer than :data:`MAX_LENGTH` characters, hold a path
  separator (``/`` or ``\\``), ``..`` (or be ``.``), or a control character (NUL, new
  line, tab, a bidirectional override...);
- a name that differs from a known class only by case (``Scratch`` next to
  ``scratch``) is refused, naming the known class;
- a name that is a known class written with other Unicode code points (``défaut`` with a
  combining accent, as macOS spells folder names, next to ``défaut`` typed in a CSV) *is*
  that class (:func:`unicode_twin`): the two read the same everywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from datacentric.errors import DatacentricError

__all__ = [
    "MAX_BYTES",
    "MAX_LENGTH",
    "case_twin",
    "check_new_class_name",
    "clean_class_list",
    "clean_class_name",
    "clean_metadata",
    "clean_text",
    "escaped",
    "known_spelling",
    "unicode_twin",
]

MAX_LENGTH = 100
MAX_BYTES = 200  # in UTF-8: a class name is part of file names (at most 255 bytes on most systems)


def clean_class_name(raw: object, where: object | None = None, *, new: bool = False) -> str:
    """Return ``raw`` stripped, or raise :class:`DatacentricError` saying why it is no class name.

    A ``new`` class (not yet in the project) must also fit :data:`MAX_BYTES`; a class a project
    already has is never refused for its length in bytes (older versions counted characters only).

    Examples
    --------
    >>> clean_class_name("  scratch ")
    'scratch'
    >>> clean_class_name("../x")
    Traceback (most recent call last):
    ...
    datacentric.errors.DatacentricError: class name '../x' holds '/', '\\' or '..'
    """
    if not isinstance(raw, str):
        kind = type(raw).__name__
        raise DatacentricError(f"class name must be text, not {kind} ({raw!r})", where)
    name = raw.strip()
    if not name:
        raise DatacentricError("empty class name", where)
    shown = ascii(name)[1:-1] if not name.isprintable() else name
    if any(_is_control(ch) for ch in name):
        raise DatacentricError(f"class name '{shown}' holds a control character", where)
    if name == ".":
        raise DatacentricError("class name '.' names the folder it is in", where)
    if "/" in name or "\\" in name or ".." in name:
        raise DatacentricError(f"class name '{shown}' holds '/', '\\' or '..'", where)
    if len(name) > MAX_LENGTH:
        raise DatacentricError(f"class name '{shown[:20]}...' is longer than {MAX_LENGTH} characters", where)
    if new:
        check_new_class_name(name, where)
    return name


def check_new_class_name(name: str, where: object | None = None) -> None:
    """Refuse a cleaned name as a *new* class when it does not fit :data:`MAX_BYTES` (file names)."""
    if len(name.encode("utf-8")) > MAX_BYTES:
        raise DatacentricError(f"class name '{escaped(name)[:20]}...' is longer than {MAX_BYTES} bytes in UTF-8", where)


def clean_text(raw: object, what: str, where: object | None = None) -> str:
    """A name that is no class (an annotator, a metadata column or value) as text, refused in
    one line when it holds a control character (NUL, new line, escape, a bidirectional
    override...): it would break the one-line output and reports it is printed in.

    >>> clean_text("mira", "annotator")
    'mira'
    """
    text = str(raw)
    if any(_is_control(ch) for ch in text):
        raise DatacentricError(f"{what} '{escaped(text)}' holds a control character", where)
    return text


def clean_metadata(metadata: dict) -> dict[str, str]:
    """Metadata columns and values as text: a line break or tab (a spreadsheet cell written on
    two lines) becomes a space; any other control character is refused (:func:`clean_text`).
    """
    return {
        clean_text(_one_line_of(k), "metadata column"): clean_text(_one_line_of(v), f"metadata value of '{k}'")
        for k, v in metadata.items()
    }


def _one_line_of(value: object) -> str:
    return " ".join(str(value).replace("\t", " ").splitlines())


def escaped(text: str) -> str:
    """``text`` with control characters and bidirectional overrides written as escapes."""
    return "".join(ascii(ch)[1:-1] if _is_control(ch) else ch for ch in text)


def case_twin(name: str, known: Iterable[str]) -> str | None:
    """The known class that differs from ``name`` only by case (in any Unicode spelling), or None."""
    canonical = unicodedata.normalize("NFC", name)
    folded = canonical.casefold()
    return next(
        (k for k in known if (c := unicodedata.normalize("NFC", k)) != canonical and c.casefold() == folded), None
    )


def unicode_twin(name: str, known: Iterable[str]) -> str | None:
    """The known class that is ``name`` in other Unicode code points (the same text in
    normal form NFC), or None.

    >>> unicode_twin("de\u0301faut", ["ok", "d\u00e9faut"]) == "d\u00e9faut"
    True
    """
    canonical = unicodedata.normalize("NFC", name)
    return next((k for k in known if k != name and unicodedata.normalize("NFC", k) == canonical), None)


def known_spelling(name: str, known: Sequence[str]) -> str:
    """``name`` as the ``known`` classes spell it: itself when known, else its known
    :func:`unicode_twin`, else ``name`` unchanged (a class not known at all).
    """
    return name if name in known else (unicode_twin(name, known) or name)


def clean_class_list(raw: Iterable[object], where: object | None = None, *, new: bool = False) -> list[str]:
    """Check a fixed class list: every name valid (``new``: see :func:`clean_class_name`), no duplicates
    (case-insensitive).
    """
    result: list[str] = []
    for item in raw:
        name = clean_class_name(item, where, new=new)
        if name in result:
            continue
        twin = case_twin(name, result)
        if twin is not None:
            raise DatacentricError(f"classes '{twin}' and '{name}' differ only by case", where)
        result.append(name)
    return result


# Bidirectional overrides and marks reorder how text is shown ("Trojan Source"): a name
# holding one could read as another class in a report or terminal. Zero-width spaces, the
# word joiner and the byte-order mark are invisible: "x\u200by" prints as "xy" but is another
# class. (Zero-width (non-)joiners stay: some scripts, Persian for one, spell words with them.)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u2060\ufeff")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI
