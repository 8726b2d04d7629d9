"""The area kernel before and after a change: same outputs (bit for bit), same speed.

Runs the compiled kernel (``green_sites``, without and with the union pass) and the geomops
functions built on it (overlap_fraction, largest_overlap, area_weighted majority/mean/max) on the
bench workload against the protected (overlapping), federal (touching) and watershed (tiling)
layers; saves every output; times the kernel alone, single-threaded, on prepared inputs, 3 runs.

    PYTHONPATH=<checkout> python bench/kernel_compare.py OUT.npz [SITES] [DATA_DIR]
    python bench/kernel_compare.py --compare BEFORE.npz AFTER.npz   # every array np.array_equal
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def run(out, nsites, data):
    import geopandas as gpd
    import shapely
    from sitescreen.measure import _areakernel
    from sitescreen.measure import geomops, overlap
    from workload import ensure
    print("kernel from", _areakernel.__file__)
    paths = ensure(nsites, dem_size=512, data=Path(data))
    fp = gpd.read_parquet(paths["sites"]).geometry.to_numpy()
    res = {}
    for name in ("protected", "federal", "watersheds"):
        g = gpd.read_parquet(paths[name])
        feats = geomops.FeatureLayer(g.geometry.to_numpy())
        res[f"{name}_overlap"] = overlap.overlap_fraction(fp, feats)
        best, area = overlap.largest_overlap(fp, feats)
        res[f"{name}_largest_idx"], res[f"{name}_largest_area"] = best, area
        if name == "watersheds":
            vals = g["huc12"].to_numpy(dtype=object)
            maj, frac = overlap.area_weighted(fp, feats, vals, "majority")
            res["ws_majority"] = maj.astype(str); res["ws_majority_frac"] = frac
            num = np.arange(len(g), dtype=float)
            res["ws_mean"], _ = overlap.area_weighted(fp, feats, num, "mean")
            res["ws_max"], _ = overlap.area_weighted(fp, feats, num, "max")
        # the kernel alone, on prepared chunk inputs, single thread
        layer = geomops.layer_of(feats, True)
        L = layer.rings
        chunks = []
        for a, b in geomops.chunks(fp.size, overlap.GREEN_CHUNK_SITES):
            f = fp[a:b]
            site, part = layer.tree.query(f)
            if site.size > 1 and (np.diff(site) < 0).any():
                o = np.argsort(site, kind="stable"); site, part = site[o], part[o]
            pstart = np.searchsorted(site, np.arange(f.size + 1)).astype(np.int64)
            tid = shapely.get_type_id(f)
            R = _areakernel.build_rings(f)
            chunks.append((R, shapely.bounds(f), (tid == 3) | (tid == 6), pstart, part.astype(np.int64)))
        for union in (False, True):
            times = []
            for rep in range(3):
                pas, covs = [], []
                t0 = time.perf_counter()
                for R, sb, ok, pstart, part in chunks:
                    pa = np.empty(part.size); cov = np.empty(pstart.size - 1)
                    _areakernel.green_sites(R.xy, R.ring_off, R.geom_ring, sb, ok, L.xy, L.ring_off, L.geom_ring,
                                            layer.bounds, layer.nedge, pstart, part, union,
                                            overlap.MAX_CROSSINGS, pa, cov)
                    pas.append(pa); covs.append(cov)
                times.append(time.perf_counter() - t0)
            res[f"{name}_kernel_pair_u{int(union)}"] = np.concatenate(pas)
            res[f"{name}_kernel_cov_u{int(union)}"] = np.concatenate(covs)
            print(f"{name:11s} union={union!s:5s} kernel s: " + " ".join(f"{t:.3f}" for t in times), flush=True)
    np.savez(out, **res)


def compare(a, b):
    A, B = np.load(a, allow_pickle=True), np.load(b, allow_pickle=True)
    assert sorted(A.files) == sorted(B.files), (A.files, B.files)
    ok = True
    for k in sorted(A.files):
        same = np.array_equal(A[k], B[k], equal_nan=A[k].dtype.kind == "f")
        nan = int(np.isnan(A[k]).sum()) if A[k].dtype.kind == "f" else 0
        print(f"{k:32s} n={A[k].size:8d} nan={nan:6d} equal={same}")
        ok &= same
    print("ALL EQUAL" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000,
            sys.argv[3] if len(sys.argv) > 3 else Path(__file__).resolve().parent / "data")
