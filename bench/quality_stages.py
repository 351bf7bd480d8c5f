"""Quality of the analysis stages on every sample video: landmark coverage, 3DMM reprojection error, blinks.

    python bench/quality_stages.py [VIDEO_DIR] [--work DIR]

Runs ``stages/preprocess.mk``'s first three stages (extract-landmarks -> fit-3dmm -> extract-au) through the
library on each video and prints, per clip: frames, share of frames with a face (target >= 95%), median and p95
reprojection error over the inter-ocular distance (target median <= 3%), blinks counted from AU45 and, as an
independent check of AU45, the correlation of AU45 with eye closure measured on the landmarks (negative eye
aspect ratio, Soukupova & Cech 2016).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from thead.face.landmarks import eye_aspect_ratio
    from thead.manifest import load_manifest
    from thead.stages import au

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="?", default=str(ROOT.parent / "shared" / "data" / "videos"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="thead-quality-"))
    res = au.run([Path(a.videos)], work / "au", preview=False, workers=a.workers, progress=False)
    lm_m = load_manifest(work / "au" / "3dmm" / "landmarks" / "manifest.json")
    fit_m = load_manifest(work / "au" / "3dmm" / "manifest.json")
    au_m = load_manifest(res.manifest_path)
    fits = {it.id: it for it in fit_m.items}
    aus = {it.id: it for it in au_m.items}
    from thead.face.au import read_au_item

    print(f"videos: {a.videos}; machine: {os.cpu_count()} cores\n")
    print(f"{'clip':<28}{'frames':>7}{'face %':>8}{'err/IOD med':>12}{'p95':>7}{'blinks':>7}{'r(AU45,-EAR)':>13}")
    for it in lm_m.items:
        if it.status != "done":
            print(f"{it.id:<28} failed: {it.error}")
            continue
        f, u = fits[it.id], aus[it.id]
        lm = np.load(lm_m.output(it, "landmarks"))["landmarks"]
        au, cols, _, _ = read_au_item(au_m, u)
        au45 = au[:, cols.index("AU45_r")]
        ear = eye_aspect_ratio(lm)
        ok = np.isfinite(ear)
        r = np.corrcoef(au45[ok], -ear[ok])[0, 1] if ok.sum() > 2 else float("nan")
        print(f"{it.id:<28}{it.meta['n_frames']:>7}{100 * it.meta['detected_fraction']:>8.1f}"
              f"{100 * f.meta['reproj_err_iod_median']:>11.2f}%{100 * f.meta['reproj_err_iod_p95']:>6.2f}%"
              f"{u.meta.get('blinks', 0):>7}{r:>13.2f}")
    print(f"\nmanifests under {work}")


if __name__ == "__main__":
    main()
