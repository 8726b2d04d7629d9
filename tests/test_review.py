"""`sitescreen review DIR SITE_ID --decision … --note …`: an append-only log of decisions tied to
the site's result hash; shown by report and map, checked by verify, carried by diff, and never
replaced by `screen --overwrite`."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.record.decisions import Decision, append_decisions, read_decisions


def _ok(args: list[str]):
    r = run_cli([str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    """A screened tiny world (kept pristine: tests copy it)."""
    w = tw.build(tmp_path_factory.mktemp("review") / "w")
    _ok(["-q", *w.args()])
    return w


@pytest.fixture
def run_copy(world_run, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(world_run.out, out)
    return out


def _review(out: Path, site: str, decision: str = "confirm", note: str = "checked", by: str = "alice"):
    return run_cli(["review", str(out), site, "--decision", decision, "--note", note, "--by", by])


def _row_hash(out: Path, site: str) -> str:
    """The result hash as the README defines it, computed here from sites.parquet independently."""
    s = gpd.read_parquet(out / "sites.parquet")
    row = s.loc[s["site_id"].astype(str) == site].iloc[0]
    cols = ["site_id", "verdict", "score"] + [c for c in s.columns if c.startswith(("m_", "s_"))]
    data = {c: (None if isinstance(row[c], float) and math.isnan(row[c]) else
                row[c].item() if hasattr(row[c], "item") else row[c]) for c in cols}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("Infinity", "1e999")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_review_appends_and_never_rewrites(run_copy, monkeypatch):
    monkeypatch.setenv("USER", "bob")
    assert _review(run_copy, "1001", note="setback fine").exit_code == 0
    log = run_copy / "reviews.jsonl"
    first = log.read_bytes()
    r = run_cli(["review", str(run_copy), "1002", "--decision", "needs-data", "--note", "no DEM yet"])
    assert r.exit_code == 0, r.output
    second = log.read_bytes()
    assert len(second) > len(first) and second.startswith(first)
    lines = [json.loads(ln) for ln in second.decode("utf-8").splitlines()]
    assert [(d["site_id"], d["decision"], d["reviewer"], d["note"]) for d in lines] == [
        ("1001", "confirm", "alice", "setback fine"), ("1002", "needs-data", "bob", "no DEM yet")]
    assert [d["result_hash"] for d in lines] == [_row_hash(run_copy, "1001"), _row_hash(run_copy, "1002")]
    assert all(d["time"].endswith("+00:00") for d in lines)


def test_concurrent_appends_lose_and_tear_nothing(run_copy):
    one = Decision(time="2026-01-01T00:00:00+00:00", reviewer="r", site_id="1001", result_hash="0" * 64,
                   decision="confirm", note="x" * 5000)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: append_decisions(run_copy, [one] * 3), range(24)))
    assert read_decisions(run_copy) == (one,) * 72


def test_bad_decision_is_a_bad_flag_naming_the_allowed_values(run_copy):
    msg = assert_error(_review(run_copy, "1001", decision="approve"), ["'--decision'", "confirm", "override",
                                                                        "needs-data"], 2)
    assert "approve" in msg and not (run_copy / "reviews.jsonl").exists()


@pytest.mark.parametrize("flag, value", [("--note", "  "), ("--by", "a\nb"), ("--by", "")])
def test_empty_note_or_reviewer_is_a_bad_flag(run_copy, flag, value):
    args = {"--note": "checked", "--by": "alice", flag: value}
    r = run_cli(["review", str(run_copy), "1001", "--decision", "confirm", *[x for kv in args.items() for x in kv]])
    assert_error(r, [f"'{flag}'"], 2)
    assert not (run_copy / "reviews.jsonl").exists()


def test_unknown_site_names_close_ids(run_copy):
    msg = assert_error(_review(run_copy, "10001"), ["sites.parquet", "'10001'", "close ids", "1001"], 1)
    assert not (run_copy / "reviews.jsonl").exists(), msg


def test_overwrite_refuses_a_folder_with_decisions(world_run, run_copy):
    assert _review(run_copy, "1001").exit_code == 0
    before = {p.name: p.read_bytes() for p in run_copy.iterdir()}
    args = world_run.args()
    args[args.index(str(world_run.out))] = str(run_copy)
    assert_error(run_cli([*args, "--overwrite"]), [str(run_copy), "reviews.jsonl", "decisions", "--carry-decisions"], 1)
    assert {p.name: p.read_bytes() for p in run_copy.iterdir()} == before
    assert_nothing_left(run_copy, set(before))


def test_report_and_map_show_each_sites_decisions(run_copy, tmp_path):
    assert _review(run_copy, "1003", decision="override", note="field visit: <b>road</b> exists").exit_code == 0
    _ok(["report", run_copy, "-o", tmp_path / "report.html"])
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    card = html[html.index('id="site-1003"'):]
    card = card[:card.index("</article>")]
    assert "override by alice" in card and "field visit: &lt;b&gt;road&lt;/b&gt; exists" in card
    assert html.count("Review decisions") == 1
    _ok(["map", run_copy, "--offline", "-o", tmp_path / "map.html"])
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "override by alice" in page and "ss-decisions" in page


def _move_wilderness(w, protected: Path) -> None:
    """A second wilderness just south of site 1001: nearer to 1001, farther than the first from the others."""
    tw.write_vector(tw.wilderness_frame([shapely.box(*tw.WILDERNESS_BOX), shapely.box(-114.51, 44.48, -114.49, 44.485)]),
                    protected)


def test_verify_flags_a_decision_after_the_sites_result_changes(tmp_path):
    w = tw.build(tmp_path / "w")
    _ok(["-q", *w.args()])
    assert _review(w.out, "1001", by="carol").exit_code == 0
    assert _review(w.out, "1003", by="carol").exit_code == 0
    r = run_cli(["verify", str(w.out)])
    assert r.exit_code == 0, r.output  # decisions on the results as they are: verify passes
    when = {d.site_id: d.time for d in read_decisions(w.out)}
    _move_wilderness(w, w.protected)  # the input changes: 1001's distance to the wilderness moves
    r = run_cli(["verify", str(w.out)])
    assert r.exit_code == 1
    flagged = [ln for ln in r.output.splitlines() if "reviews.jsonl" in ln]
    assert len(flagged) == 1, r.output
    assert "site 1001" in flagged[0] and "carol" in flagged[0] and when["1001"] in flagged[0]
    assert "no longer matches" in flagged[0]


def test_decisions_survive_diff_carry_decisions(tmp_path):
    a = tw.build(tmp_path / "a")
    _ok(["-q", *a.args()])
    for site in ("1001", "1003"):
        assert _review(a.out, site, note=f"ok {site}").exit_code == 0
    b = tw.build(tmp_path / "b")
    _move_wilderness(b, b.protected)
    _ok(["-q", *b.args()])
    changed = {s for s in ("1001", "1003") if _row_hash(a.out, s) != _row_hash(b.out, s)}
    assert changed == {"1001"}, "the moved wilderness changes 1001 only"
    r = _ok(["diff", a.out, b.out, "--carry-decisions"])
    assert "Carried 2 decision(s)" in r.output and "1001" in r.output.splitlines()[-1]
    carried = read_decisions(b.out)
    original = read_decisions(a.out)
    assert [(d.site_id, d.time, d.result_hash, d.note) for d in carried] == \
        [(d.site_id, d.time, d.result_hash, d.note) for d in original]
    assert {d.site_id: d.site_changed for d in carried} == {"1001": True, "1003": False}
    assert all(d.carried_from == str(a.out) for d in carried)
    size = (b.out / "reviews.jsonl").stat().st_size
    _ok(["diff", a.out, b.out, "--carry-decisions"])
    assert (b.out / "reviews.jsonl").stat().st_size == size, "a decision is carried once"
    v = run_cli(["verify", str(b.out)])
    assert v.exit_code == 0, v.output  # B reproduces; the carried decision on a changed site is a note
    assert any("site 1001" in ln and "carried from" in ln and "review it again" in ln for ln in v.output.splitlines())
