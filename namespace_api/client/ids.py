"""Item IDs as the API sees them, and the chunks they are sent in (namespace-api.md 5.0)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence


def normalize_ids(ids: Iterable[object]) -> list[str]:
    """IDs as the API sees them: strings, duplicates (after conversion) removed, order kept.

    The API converts numbers to strings (D-del), so `1` and `"1"` are one item. Empty IDs
    and values that are neither strings nor numbers are refused before anything is sent.
    """
    raw_ids = list(ids)
    # Plain strings are the common case: keep them out of the per-item function call.
    converted = [raw if type(raw) is str and raw else _as_id(raw) for raw in raw_ids]
    if None in converted:
        bad = [raw for raw, value in zip(raw_ids, converted, strict=True) if value is None]
        raise ValueError(f"invalid item IDs (empty or not a string/number): {bad[:5]!r}")
    return list(dict.fromkeys(converted))  # type: ignore[arg-type]


def chunked(values: Sequence[str], size: int) -> Iterator[list[str]]:
    """`values` in consecutive lists of at most `size`, order kept."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _as_id(raw: object) -> str | None:
    """The API's string form of an ID, or None when it is not a usable ID."""
    if type(raw) is str:
        return raw or None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        # The API is JavaScript: String(1.0) is "1".
        if raw.is_integer():
            return str(int(raw))
    return str(raw)
