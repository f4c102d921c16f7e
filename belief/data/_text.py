"""Text values at the boundary: missing cells, ids and free text, shortened for messages.

Ids (``claim_id``, ``source_id``, ``group``, ``kind``, ...) are single text values without NUL
bytes or lone surrogates; free text (``text``, ``name``) may hold anything but lone surrogates,
which no output file or terminal can encode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from belief.exceptions import ValidationError


def missing(value: Any) -> bool:
    """``None`` or blank text: an empty cell."""
    # DataFrame readers turn empty cells (NaN) into None first, so a NaN that reaches here was
    # written by the user (YAML .nan, JSON NaN) and is rejected as a bad value, not skipped
    if value is None:
        return True
    return isinstance(value, str) and value.strip() == ""


def as_text(value: Any) -> str | None:
    """The value as stripped text (``1.0`` as ``1``), ``None`` if missing."""
    if missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def short(value: Any) -> str:
    """``repr(value)``, shortened in the middle when long (a 401-digit number, a long text)."""
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:38]}...{shown[-38:]} ({len(shown)} characters)"


def encodable(text: str, where: str) -> str:
    """``text``, refused if it holds a lone surrogate (a JSON ``"\\ud800"``): no output file or
    terminal can encode one, so the command would fail only after all the work, at its first
    print."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise ValidationError(
            f"{where}: expected text without unpaired surrogates but got {short(text)}"
        )
    return text


def free_text(value: Any, where: str) -> str:
    """Free text (``text``, ``name``): anything written, as text; ``""`` if missing."""
    return encodable(as_text(value) or "", where)


def ident(value: Any, where: str) -> str | None:
    """An id (or other name: group, favors, side, kind): one piece of text, or ``None``."""
    if isinstance(value, Iterable) and not isinstance(value, str):
        kind = "mapping" if isinstance(value, Mapping) else type(value).__name__
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValidationError(f"{where}: expected a single text value but got a {kind}: {shown}")
    text = as_text(value)
    if text is not None and ("\0" in text or any("\ud800" <= c <= "\udfff" for c in text)):
        raise ValidationError(
            f"{where}: expected text without NUL bytes or unpaired surrogates but got {text!r}"
        )
    return text
