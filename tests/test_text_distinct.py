"""Text cleaned and compared once per distinct value gives, row for row, what cleaning each row
gives (the rule of sitescreen.inputs.text), on object and Arrow text columns of repeated values."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pytest

from sitescreen.inputs.load import _name_ranks
from sitescreen.inputs.text import clean_text, clean_value, text_in

NFD_E = unicodedata.normalize("NFD", "é")
POOL = [" a", "a", "a ", NFD_E, "é", " " + NFD_E + "t\u00e9 ", None, np.nan, "", "  ", "FED", "fed ", "x\u00a0"]


def _by_row(s: pd.Series) -> list:
    """Each row cleaned on its own (the rule itself, one value at a time)."""
    return [clean_value(v) if isinstance(v, str) else v for v in s.tolist()]


def _column(rng, n, dtype):
    vals = [POOL[i] for i in rng.integers(0, len(POOL), n)]
    return pd.Series(vals, dtype=dtype, index=rng.permutation(n) + 3, name="f")


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_clean_text_is_each_row_cleaned(dtype):
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 500):
        s = _column(rng, n, dtype)
        got = clean_text(s)
        assert got.index.equals(s.index) and got.name == "f" and len(got) == n
        assert (got.dtype == object) if dtype is object else isinstance(got.dtype, pd.StringDtype)
        want = _by_row(s)
        for g, w, orig in zip(got.tolist(), want, s.tolist()):
            if isinstance(orig, str):
                assert g == w and isinstance(g, str)
            else:
                assert pd.isna(g)
        texts = [v for v in got.tolist() if isinstance(v, str)]
        assert NFD_E not in texts and ("é" in texts or n < 7)  # composed


def test_clean_text_keeps_other_values_as_they_are():
    s = pd.Series([1, 1.0, True, " a", None, 2.5, " a"], dtype=object)
    got = clean_text(s)
    assert [type(v) for v in got] == [int, float, bool, str, type(None), float, str]
    assert got.tolist()[:3] == [1, 1.0, True] and got[3] == "a" and got[6] == "a"


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_text_in_is_each_row_compared(dtype):
    rng = np.random.default_rng(9)
    s = _column(rng, 800, dtype)
    for allowed in (["a"], [" é", "FED"], ["fed"], [NFD_E + "té"], []):
        wanted = {clean_value(a) for a in allowed}
        want = np.array([isinstance(v, str) and v in wanted for v in _by_row(s)])
        assert np.array_equal(text_in(s, allowed), want), allowed


def test_name_ranks_order_as_text_does():
    rng = np.random.default_rng(2)
    pool = ["", "a", "b", "é", NFD_E, "Z", "zz", None, "10", "9", "\U0001F600"]
    for dtype in (object, "str", "string"):
        names = pd.Series([pool[i] for i in rng.integers(0, len(pool), 300)], dtype=dtype)
        text = names.fillna("").astype(str).to_numpy(dtype=str)
        tie = rng.integers(0, 3, len(names))
        assert np.array_equal(np.lexsort((tie, text)), np.lexsort((tie, _name_ranks(names))))
