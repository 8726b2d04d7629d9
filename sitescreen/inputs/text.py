"""Text values read from files and settings, compared as the same value when they are the same
text: surrounding whitespace dropped and Unicode composed (NFC), so ``"FED "`` is ``"FED"`` and a
decomposed ``"é"`` the composed one. Case is kept: ``"fed"`` is another value. Every comparison of a
file's text with a filter, a selection or another record (site ids) goes through here.

A column of millions of rows holds few distinct values (a stream layer's ``flow``, its names): the
work is done once per distinct value (:func:`distinct`) and mapped back to the rows by their codes."""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable

import numpy as np
import pandas as pd


def distinct(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, uniques) of ``s``: ``uniques.iloc[codes[i]]`` is row ``i``'s value; -1 where it is missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype=s.dtype if isinstance(s.dtype, pd.StringDtype) else object)


def _clean_rows(s: pd.Series) -> pd.Series:
    """:func:`clean_text` row by row (for the distinct values)."""
    t = s.str.strip().str.normalize("NFC")
    return t if isinstance(s.dtype, pd.StringDtype) else t.where(t.notna(), s)


def clean_text(s: pd.Series) -> pd.Series:
    """``s`` with each text value stripped and NFC-composed; other values (numbers, missing) unchanged."""
    if isinstance(s.dtype, pd.StringDtype):  # stripped at once (Arrow); composed where not ASCII, per distinct value
        t = s.str.strip()
        odd = t.notna().to_numpy() & ~t.str.isascii().to_numpy(dtype=bool, na_value=True)
        if odd.any():
            codes, uniques = distinct(t[odd])
            t = t.copy()
            t[odd] = uniques.str.normalize("NFC").array.take(codes)
        return t
    if s.dtype != object:
        return s
    codes, uniques = distinct(s)
    # only text is cleaned: distinct non-text values may stand for several (1, 1.0 and True are one
    # key), so those rows keep their own values
    text = np.fromiter((isinstance(v, str) for v in uniques), dtype=bool, count=len(uniques))
    out = s.to_numpy(dtype=object, copy=True)
    if text.any():
        rows = codes >= 0
        rows[rows] = text[codes[rows]]
        cleaned = uniques.to_numpy(dtype=object, copy=True)
        cleaned[text] = _clean_rows(uniques[text]).to_numpy(dtype=object)
        out[rows] = cleaned[codes[rows]]
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def clean_value(v: Any) -> Any:
    """One value as :func:`clean_text` makes it (a filter's or selection's allowed value)."""
    return unicodedata.normalize("NFC", v.strip()) if isinstance(v, str) else v


def text_in(values: pd.Series, allowed: Iterable[Any]) -> np.ndarray:
    """Which of ``values`` is one of ``allowed``, both sides cleaned (missing values: never)."""
    wanted = [clean_value(a) for a in allowed]
    if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return _isin(values, wanted)
    codes, uniques = distinct(values)
    hit = _isin(clean_text(uniques), wanted)
    out = np.zeros(len(values), dtype=bool)
    known = codes >= 0
    out[known] = hit[codes[known]]
    if not known.all():  # missing values as before (a missing value among the allowed ones)
        out[~known] = _isin(values[~known], wanted)
    return out


def _isin(s: pd.Series, wanted: list) -> np.ndarray:
    return s.isin(wanted).to_numpy(dtype=bool, na_value=False)
