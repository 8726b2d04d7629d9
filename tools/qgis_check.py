"""Open a sitescreen output folder in a real QGIS, headless, and check that it reads well there.

Run with the Python that has QGIS's bindings (Debian: ``apt-get install qgis python3-qgis``, then
``/usr/bin/python3``) and ``QT_QPA_PLATFORM=offscreen``; ``make qgis-check`` does it all on the
demo's output. Checks, each printed as ``ok`` or ``FAIL``:

- GDAL opens ``sites.gpkg`` without a warning (a GeoPackage version this GDAL only partly supports);
- the default style stored in ``layer_styles`` is applied when the layer is added: a categorized
  renderer on ``verdict`` with sitescreen's verdicts, labels and colours (read from
  ``sitescreen/rules/verdicts.py``, the one place they are stated), labels by name, shown from
  1:150,000 in and placed beside the symbol;
- the field types: ``site_id`` and the HUC code are text, the scores are real numbers;
- ``sites.csv`` through the delimited-text provider and through GDAL: the types of ``sites.csvt``;

and renders the layer to ``OUT.png`` (whole extent: symbols without labels) and ``OUT-zoom.png``
(1:100,000 around the first favorable site: labels beside their symbols). Exit 1 when a check fails.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from qgis.core import (QgsApplication, QgsMapRendererParallelJob, QgsMapSettings,
                       QgsPalLayerSettings, QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize, QVariant
from qgis.PyQt.QtGui import QColor

REPO = Path(__file__).resolve().parents[1]
LABEL_SCALE = 150_000
RESULTS: list[tuple[bool, str]] = []


def palette():
    """sitescreen's verdicts, labels and colours, from the module that states them (no other import)."""
    spec = importlib.util.spec_from_file_location("verdicts", REPO / "sitescreen" / "rules" / "verdicts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.VERDICTS, mod.LABELS, mod.COLORS


def check(ok: bool, what: str) -> bool:
    RESULTS.append((bool(ok), what))
    print(f"{'ok  ' if ok else 'FAIL'}  {what}", flush=True)
    return bool(ok)


def check_renderer(layer: QgsVectorLayer) -> None:
    verdicts, labels, colors = palette()
    r = layer.renderer()
    check(r is not None and r.type() == "categorizedSymbol" and r.classAttribute() == "verdict",
          f"default style from layer_styles applied: renderer {r.type() if r else None!r} on "
          f"{r.classAttribute() if r and r.type() == 'categorizedSymbol' else None!r}")
    if r is None or r.type() != "categorizedSymbol":
        return
    cats = r.categories()
    check([c.value() for c in cats] == list(verdicts), f"categories {[c.value() for c in cats]}")
    check([c.label() for c in cats] == [labels[v] for v in verdicts], f"labels {[c.label() for c in cats]}")
    got = {c.value(): c.symbol().color().name() for c in cats}
    want = {v: QColor(colors[v]).name() for v in verdicts}
    check(got == want, f"colours {got}")


def check_labels(layer: QgsVectorLayer) -> None:
    check(layer.labelsEnabled() and layer.labeling() is not None, "labels enabled")
    if layer.labeling() is None:
        return
    s = layer.labeling().settings()
    check(s.fieldName == "name", f"labelled by {s.fieldName!r}")
    check(s.scaleVisibility and s.minimumScale == LABEL_SCALE and s.maximumScale == 0,
          f"labels scale-dependent: shown from 1:{s.minimumScale:,.0f} in (scaleVisibility {s.scaleVisibility})")
    beside = (QgsPalLayerSettings.OutsidePolygons, QgsPalLayerSettings.AroundPoint,
              QgsPalLayerSettings.OrderedPositionsAroundPoint)
    check(s.placement in beside and s.dist > 0, f"labels placed beside the symbol (placement {int(s.placement)}, "
                                                f"distance {s.dist} mm)")


def field_types(layer: QgsVectorLayer) -> dict[str, str]:
    return {f.name(): QVariant.typeToName(f.type()) for f in layer.fields()}


def check_types(layer: QgsVectorLayer, what: str) -> None:
    t = field_types(layer)
    check(t.get("site_id") == "QString", f"{what}: site_id is {t.get('site_id')}")
    check(t.get("m_watershed") == "QString", f"{what}: m_watershed (HUC code) is {t.get('m_watershed')}")
    scores = {k: v for k, v in t.items() if k == "score" or k.startswith("s_")}
    check(scores and set(scores.values()) == {"double"}, f"{what}: scores are {scores}")


def render(layer: QgsVectorLayer, path: Path, extent: QgsRectangle, size=(1200, 900)) -> None:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(*size))
    settings.setBackgroundColor(QColor("white"))
    settings.setExtent(extent)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    check(image.save(str(path), "png"), f"rendered {path} at 1:{settings.scale():,.0f}")


def zoom_extent(layer: QgsVectorLayer, scale: float, size=(1200, 900), dpi=96.0) -> QgsRectangle:
    """The extent around the layer's first favorable site (else its first) at about 1:``scale``."""
    feats = list(layer.getFeatures())
    pick = next((f for f in feats if f["verdict"] == "favorable"), feats[0])
    c = pick.geometry().centroid().asPoint()
    half_w = size[0] / dpi * 0.0254 * scale / 2
    half_h = size[1] / dpi * 0.0254 * scale / 2
    return QgsRectangle(c.x() - half_w, c.y() - half_h, c.x() + half_w, c.y() + half_h)


def check_csv(folder: Path) -> None:
    csv = folder / "sites.csv"
    check((folder / "sites.csvt").is_file(), "sites.csvt written beside sites.csv")
    uri = f"{csv.as_uri()}?type=csv&detectTypes=yes&xField=lon&yField=lat&crs=EPSG:4326&geomType=point"
    layer = QgsVectorLayer(uri, "sites.csv", "delimitedtext")
    if check(layer.isValid(), "sites.csv opens with the delimited-text provider"):
        check_types(layer, "sites.csv (delimited text)")
    ogr = QgsVectorLayer(str(csv), "sites.csv", "ogr")
    if check(ogr.isValid(), "sites.csv opens with GDAL"):
        check_types(ogr, "sites.csv (GDAL)")


def main(folder: Path, png: Path) -> int:
    messages: list[str] = []
    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.messageLog().messageReceived.connect(lambda m, tag, level: messages.append(f"[{tag}] {m}"))
    from qgis.core import Qgis
    from osgeo import gdal
    print(f"QGIS {Qgis.QGIS_VERSION}, GDAL {gdal.__version__}")
    gdal.PushErrorHandler(lambda cls, num, msg: messages.append(f"[GDAL] {msg}"))
    layer = QgsVectorLayer(f"{folder / 'sites.gpkg'}|layername=sites", "sites", "ogr")
    if not check(layer.isValid(), f"{folder / 'sites.gpkg'} opens as a layer ({layer.featureCount()} sites)"):
        return 1
    warned = [m for m in messages if "partially supported" in m or "version" in m.lower()]
    check(not warned, f"GDAL opens the GeoPackage without a version warning {warned or ''}".rstrip())
    check_renderer(layer)
    check_labels(layer)
    check_types(layer, "sites.gpkg")
    check_csv(folder)
    png.parent.mkdir(parents=True, exist_ok=True)
    extent = layer.extent()
    extent.scale(1.05)
    render(layer, png, extent)
    render(layer, png.with_name(png.stem + "-zoom.png"), zoom_extent(layer, 100_000))
    failed = [w for ok, w in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed", flush=True)
    del layer
    app.exitQgis()
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: qgis_check.py OUTPUT_FOLDER OUT.png")
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
