"""Results that read well in QGIS 3.22 / GDAL 3.6 (Debian 12): a GeoPackage version that GDAL reads
fully, a typed CSV (``sites.csvt``), labels that do not cover their symbols. ``make qgis-check``
checks the same in a real QGIS; these tests need none."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import pyarrow as pa
import pyogrio
import pytest

import tinyworld as tw
from edgecases import run_cli
from sitescreen.outputs import staging
from sitescreen.outputs.files import GPKG_VERSION, csvt_text
from sitescreen.outputs.qgis import LABEL_MIN_SCALE, style_qml, style_sld

GPKG_APPLICATION_ID = int.from_bytes(b"GPKG", "big")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny world screened (no map, no report); a watershed layer gives a HUC code column."""
    w = tw.build(tmp_path_factory.mktemp("qgisfiles") / "w")
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    return w.out


def _gpkg_version(path) -> tuple[int, int]:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA application_id").fetchone()[0], con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def test_geopackage_is_version_1_2(run):
    """GDAL 3.6 warned "version 1.4 may only be partially supported" on the default of newer GDALs."""
    major, minor = (int(p) for p in GPKG_VERSION.split("."))
    assert (major, minor) <= (1, 3)  # 1.3 is the newest GDAL 3.6 supports fully
    assert _gpkg_version(run / "sites.gpkg") == (GPKG_APPLICATION_ID, major * 10000 + minor * 100)
    info = pyogrio.read_info(run / "sites.gpkg", layer="sites")
    assert info["features"] == len(tw.SITES) and info["driver"] == "GPKG"


def test_appended_pieces_keep_the_version(tmp_path):
    """A streamed run appends its chunks: the version the first chunk wrote stays."""
    from fixtures_results import make_sites
    from sitescreen.outputs.files import ResultWriter
    sites = make_sites()
    writer = ResultWriter(tmp_path)
    try:
        writer.append(sites.iloc[:3])
        writer.append(sites.iloc[3:])
    finally:
        writer.abort()
    assert _gpkg_version(tmp_path / "sites.gpkg") == (GPKG_APPLICATION_ID, 10200)
    assert pyogrio.read_info(tmp_path / "sites.gpkg", layer="sites")["features"] == len(sites)
    assert (tmp_path / "sites.csvt").read_text().count(",") == len(writer._schemas["csv"]) - 1


def test_csvt_names_every_csv_column_with_its_type(run):
    header = (run / "sites.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    lines = (run / "sites.csvt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    types = dict(zip((h.strip('"') for h in header), (t.strip('"') for t in lines[0].split(","))))
    assert len(types) == len(header) == len(lines[0].split(","))
    assert types["site_id"] == types["name"] == types["verdict"] == types["reasons"] == "String"
    assert types["score"] == types["lon"] == types["lat"] == "Real"
    assert all(types[c] == "Real" for c in types if c.startswith("s_"))


def test_gdal_reads_the_csv_with_its_csvt(run, tmp_path):
    """GDAL (what QGIS uses when a CSV is dropped on it) honours the sidecar: ids stay text with their
    leading zeros, scores are numbers; without the sidecar every column would be text."""
    info = pyogrio.read_info(run / "sites.csv")
    dtypes = dict(zip(info["fields"], info["dtypes"]))
    assert dtypes["site_id"] == "object" and dtypes["score"] == "float64" and dtypes["lat"] == "float64"
    bare = tmp_path / "sites.csv"
    bare.write_bytes((run / "sites.csv").read_bytes())
    assert dict(zip(*(pyogrio.read_info(bare)[k] for k in ("fields", "dtypes"))))["score"] == "object"


def test_csvt_keeps_codes_text_and_an_empty_column_typed():
    """The HUC code and the ids are text whatever they look like; a column with no value in the first
    piece is text in the CSV and in the sidecar alike; 64-bit integers are Real (QGIS 3.22's
    delimited-text reader drops a sidecar naming Integer64)."""
    schema = pa.schema([("site_id", pa.string()), ("m_watershed", pa.string()), ("n_records", pa.int64()),
                        ("small", pa.int32()), ("score", pa.float64()), ("empty", pa.string()),
                        ("flag", pa.bool_()), ("day", pa.date32()), ("at", pa.timestamp("s"))])
    assert csvt_text(schema) == ('"String","String","Real","Integer","Real","String","String","Date",'
                                 '"DateTime"\n')
    for word in ("Integer64", "Integer(Boolean)"):
        assert word not in csvt_text(schema)


def test_csvt_is_an_output_of_the_run_hashed_and_verified(run, tmp_path):
    import shutil
    assert "sites.csvt" in staging.OUTPUT_FILES and "sites.csvt" in staging.RESULT_FILES
    recorded = json.loads((run / "manifest.json").read_text())["outputs"]
    assert recorded["sites.csvt"]["sha256"] == staging.sha256(run / "sites.csvt")
    out = tmp_path / "out"
    shutil.copytree(run, out)
    (out / "sites.csvt").write_text('"Integer"\n')
    r = run_cli(["verify", str(out)])
    assert r.exit_code == 1 and f"{out / 'sites.csvt'}: changed since the run" in r.output, r.output


@pytest.mark.parametrize("geometry, placement", [("MULTIPOLYGON", "8"), ("POINT", "0"), ("LINESTRING", "0")])
def test_labels_are_scale_dependent_and_beside_the_symbol(geometry, placement):
    """Labels covered their symbols at full extent: now drawn from 1:150,000 in, never over the symbol
    (QGIS reads the most zoomed-out scale from ``scaleMax``)."""
    qml = ET.fromstring(style_qml(geometry).split("\n", 1)[1])
    rendering = qml.find("labeling/settings/rendering")
    assert rendering.get("scaleVisibility") == "1"
    assert float(rendering.get("scaleMax")) == LABEL_MIN_SCALE == 150_000 and rendering.get("scaleMin") == "0"
    place = qml.find("labeling/settings/placement")
    assert place.get("placement") == placement and float(place.get("dist")) > 0
    sld = ET.fromstring(style_sld("sites", geometry).encode())
    se = "{http://www.opengis.net/se}"
    rule = next(r for r in sld.iter(f"{se}Rule") if r.findtext(f"{se}Name") == "labels")
    assert float(rule.findtext(f"{se}MaxScaleDenominator")) == LABEL_MIN_SCALE
    assert rule.find(f"{se}TextSymbolizer/{se}LabelPlacement/{se}PointPlacement/{se}Displacement") is not None
