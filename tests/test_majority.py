"""The area-weighted majority in numpy (sitescreen.measure.majority): the sums pandas' groupby
computes, bit for bit, and ties to the value met first in the layer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from sitescreen.measure import overlap
from sitescreen.measure.majority import group_sums, majority_codes


def pandas_majority(site, code, area):
    """The reference: the pandas groupby the kernel used before."""
    df = pd.DataFrame({"site": site, "k": code, "area": area})
    tot = df.groupby(["site", "k"], sort=False)["area"].sum().reset_index()
    tot = tot.sort_values(["site", "area", "k"], ascending=[True, False, True], kind="stable")
    top = tot.drop_duplicates("site")
    return top["site"].to_numpy(), top["k"].to_numpy(), tot


@pytest.mark.parametrize("seed", range(6))
def test_same_sums_and_codes_as_pandas(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4000))
    site = rng.integers(0, 60, n)
    code = rng.integers(0, 5, n)
    # areas over many magnitudes: a plain sum would differ from pandas' compensated one
    area = rng.lognormal(0, 8, n) * rng.choice([1e-6, 1.0, 1e6], n)
    ref_site, ref_code, tot = pandas_majority(site, code, area)
    got_site, got_code = majority_codes(site, code, area)
    order = np.argsort(ref_site)
    assert np.array_equal(got_site, ref_site[order]) and np.array_equal(got_code, ref_code[order])
    o = np.lexsort((code, site))
    s, c = site[o], code[o]
    start = np.flatnonzero(np.r_[True, (s[1:] != s[:-1]) | (c[1:] != c[:-1])])
    want = tot.sort_values(["site", "k"])["area"].to_numpy()
    assert np.array_equal(group_sums(area[o], start), want)  # bit for bit
    assert not np.array_equal(np.add.reduceat(area[o], start), want) or n < 3  # why not a plain sum


def test_ties_go_to_the_smallest_code():
    # site 0: codes 2 and 1 tie (3.0 each, code 2 first); site 1: code 0 alone; site 3: 4 beats 3
    site = np.array([0, 0, 0, 1, 3, 3, 3])
    code = np.array([2, 1, 1, 0, 3, 4, 3])
    area = np.array([3.0, 1.0, 2.0, 5.0, 1.0, 2.5, 1.0])
    got_site, got_code = majority_codes(site, code, area)
    assert got_site.tolist() == [0, 1, 3] and got_code.tolist() == [1, 0, 4]
    ref_site, ref_code, _ = pandas_majority(site, code, area)
    assert ref_site.tolist() == got_site.tolist() and ref_code.tolist() == got_code.tolist()


def test_empty_pairs():
    s, c = majority_codes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    assert s.size == 0 and c.size == 0
    assert group_sums(np.zeros(0), np.zeros(0, np.int64)).size == 0


def test_area_weighted_majority_tie_goes_to_the_value_met_first():
    fp = np.array([shapely.box(0, 0, 2, 1), shapely.box(10, 0, 13, 1), shapely.box(50, 50, 51, 51)])
    # footprint 0: half "b" (met first), half "a": a tie; footprint 1: "a" twice (2 of 3) beats "c"
    feats = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1),
                      shapely.box(10, 0, 11, 1), shapely.box(11, 0, 12, 1), shapely.box(12, 0, 13, 1)])
    values = np.array(["b", "a", "a", "c", "a"], dtype=object)
    maj, frac = overlap.area_weighted(fp, feats, values, "majority")
    assert maj.tolist() == ["b", "a", None]
    assert frac[:2].tolist() == [1.0, 1.0] and frac[2] == 0.0
    maj2, _ = overlap.area_weighted(fp, feats[[1, 0, 2, 3, 4]], values[[1, 0, 2, 3, 4]], "majority")
    assert maj2.tolist() == ["a", "a", None]  # the other order: the other value wins the tie
