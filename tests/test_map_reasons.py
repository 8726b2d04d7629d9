"""Issue 13 item 5: a national map's reasons. A million sites give a million distinct reason texts
("distance to protected areas 886.2 m"); the payload sends them as templates with a hole per number,
losslessly (payload._reason_dict), and keeps the plain dictionary when templates do not pay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fixtures_results import make_sites
from sitescreen.outputs import payload
from test_map_hexes import payload_decode


def numbered_reasons(n: int) -> list[str]:
    rng = np.random.default_rng(3)
    d = rng.uniform(0, 5000, n)
    return [f"protected_distance: distance to protected areas {x:,.1f} m (#{i}, layer protected) → suitability "
            f"{x / 5000:.3f}; federal_land: share 0 % → suitability 0.000" + ("; clears every exclusion" if i % 3 else "")
            for i, x in enumerate(d)]


def decode_reason_dict(rs: dict) -> list[str]:
    """The distinct reason texts, decoded as sitescreen-map.js's reasonTexts does."""
    if "dict" in rs:
        return rs["dict"]
    ti = payload_decode(rs["ti"])
    tok = rs["tok"]
    tokens = tok["list"] if "list" in tok else [tok["dict"][k - 1] for k in payload_decode(tok["idx"])]
    out, p = [], 0
    for t in ti:
        holes = rs["tpl"][t].split("\x1f")
        text = holes[0]
        for h in holes[1:]:
            text += tokens[p] + h
            p += 1
        out.append(text)
    assert p == rs["ntok"] == len(tokens)
    return out


def test_numbered_reasons_travel_as_templates_and_come_back_unchanged():
    texts = sorted({p for r in numbered_reasons(3000) for p in r.split("; ")})
    rs = payload._reason_dict(texts)
    assert "tpl" in rs and "dict" not in rs and len(rs["tpl"]) <= 4
    assert decode_reason_dict(rs) == texts
    plain = len(payload.dumps({"dict": texts}))
    assert len(payload.dumps(rs)) < plain / 2


def test_few_distinct_reasons_keep_the_plain_dictionary():
    texts = ["within 300 m of a protected area", "within 1,500 m of a protected area", "near streams"]
    assert payload._reason_dict(texts) == {"dict": texts}


def test_a_text_holding_the_hole_character_is_sent_as_it_is():
    texts = [f"distance {i} m" for i in range(50)] + ["odd \x1f text 1"]
    assert payload._reason_dict(texts) == {"dict": texts}


def test_site_payload_reasons_round_trip():
    sites = make_sites(400)
    sites["reasons"] = numbered_reasons(len(sites))
    geo = payload.site_geometry(sites)
    rs = payload.site_payload(sites, geo, [])["rs"]
    assert "tpl" in rs
    texts = decode_reason_dict(rs)
    flat, per_site, p = payload_decode(rs["idx"]), [], 0
    while p < len(flat):
        k = flat[p]
        per_site.append("; ".join(texts[c] for c in flat[p + 1:p + 1 + k]))
        p += 1 + k
    assert per_site == list(pd.Series(sites["reasons"]))


def test_names_and_records_that_repeat_the_ids_are_sent_once():
    """The bench's sites (and many CSVs) name each site by its id: a million ids, not three."""
    sites = make_sites(20)
    geo = payload.site_geometry(sites)
    assert payload.site_payload(sites, geo, [])["name"] == list(sites["name"].astype(str))  # real names: sent
    same = sites.assign(name=sites["site_id"], record_ids=sites["site_id"])
    p = payload.site_payload(same, geo, [])
    assert p["id"] == list(sites["site_id"]) and p["name"] == "id" and p["rec"] == "id"


def test_one_radius_for_all_sites_is_sent_once():
    sites = make_sites(20)
    circles = sites.iloc[:-1]  # the last site is a claim polygon: radius 0
    assert payload.site_payload(circles, payload.site_geometry(circles), [])["fpr"] == 10_000  # 1,000 m in dm
    assert isinstance(payload.site_payload(sites, payload.site_geometry(sites), [])["fpr"], str)
