"""Text values read from files and settings, compared as the same value when they are the same
text: surrounding whitespace dropped and Unicode composed (NFC), so ``"FED "`` is ``"FED"`` and a
decomposed ``"é"`` the composed one. Case is kept: ``"fed"`` is another value. Every comparison of a
file's text with a filter, a selection or another record (site ids) goes through here."""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable

import numpy as np
import pandas as pd


def clean_text(s: pd.Series) -> pd.Series:
    """``s`` with each text value stripped and NFC-composed; other values (numbers, missing) unchanged."""
    if not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
        return s
    t = s.str.strip().str.normalize("NFC")
    return t if isinstance(s.dtype, pd.StringDtype) else t.where(t.notna(), s)


def clean_value(v: Any) -> Any:
    """One value as :func:`clean_text` makes it (a filter's or selection's allowed value)."""
    return unicodedata.normalize("NFC", v.strip()) if isinstance(v, str) else v


def text_in(values: pd.Series, allowed: Iterable[Any]) -> np.ndarray:
    """Which of ``values`` is one of ``allowed``, both sides cleaned (missing values: never)."""
    return clean_text(values).isin([clean_value(a) for a in allowed]).to_numpy(dtype=bool, na_value=False)
