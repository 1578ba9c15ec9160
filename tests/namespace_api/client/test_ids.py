"""Normalising IDs before anything is sent (namespace-api.md 5.0, issue 3 "normalises IDs")."""

from __future__ import annotations

import pytest

from namespace_api.client import normalize_ids


def test_ids_become_strings_and_duplicates_after_conversion_collapse():
    assert normalize_ids([1, "1", "a", "a", 2.5, 3.0, "3", "ü-ß-✓"]) == [
        "1",
        "a",
        "2.5",
        "3",
        "ü-ß-✓",
    ]


@pytest.mark.parametrize(
    "bad", [[""], [None], [True], [["nested"]], [{"id": 1}], [float("nan")], [float("inf")]]
)
def test_empty_and_non_scalar_ids_are_refused_before_sending(bad):
    with pytest.raises(ValueError, match="invalid item IDs"):
        normalize_ids(bad)
