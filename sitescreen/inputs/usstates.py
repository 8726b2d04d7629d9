"""US states and territories by USPS code: the names a layer or a deposit record may use for one.

Used by "states" coverage (:mod:`sitescreen.inputs.coverage`): a state extract (e.g. PAD-US for one state)
covers the states named in its state field, and a site whose record names another state is
outside it. Only names and codes are here, no boundaries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}
TERRITORIES = {"PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
               "MP": "Northern Mariana Islands"}
_BY_NAME = {k.lower(): k for k in (*STATES, *TERRITORIES)}
_BY_NAME.update({v.lower(): k for k, v in (*STATES.items(), *TERRITORIES.items())})


def state_codes(values) -> np.ndarray:
    """The USPS code of each value (a code or a name, any case); "" where it names no state."""
    s = pd.Series(values, dtype=object).astype("string").str.strip().str.lower()
    return s.map(_BY_NAME).fillna("").to_numpy(dtype=object)


def is_national(codes) -> bool:
    """Whether ``codes`` name every state and DC (a national file, not an extract)."""
    return set(STATES) <= set(codes)
