"""FLNet ablations under one budget (paper "Ablation study" and Table 1): trains 5B (full), 1B, 3B, appearance-only
and warp-only for the same wall-clock time each on one ../shared/data person, then evaluates all of them on held-back
frames of that person (the last 20% of the clip, never trained on; banks from the first 80%) and prints a
Table-1-style table: L1 (0-255), FD-dlib (Fréchet distance of dlib face embeddings; FID needs Inception weights),
LMD (px at the crop size), identity distance.

    python bench/quality_flnet.py --minutes 6 [--device cpu] [--batch 4] [--width 16] [--size 128]

1B and 3B are the first 1 or 3 of the 5 evenly spaced bank images, as in the paper. A CPU budget of minutes is far
from the paper's training (TCD-TIMIT, 62 speakers); read the table as a comparison between ablations under one budget.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
PERSON = "videos/video-retalking_face_4.mp4"
ABLATIONS = [("5B", "full", 5), ("1B", "full", 1), ("3B", "full", 3), ("A", "appearance-only", 5),
             ("W", "warp-only", 5)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=6.0, help="training time per ablation")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--person", default=PERSON, help="a clip under ../shared/data")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()

    from thead.stages import crop
    from thead.systems.flnet.evaluate import evaluate
    from thead.systems.flnet.train import FLNetConfig, train_flnet

    work = Path(a.work or tempfile.mkdtemp(prefix="thead-quality-flnet-"))
    t0 = time.perf_counter()
    res = crop.run([SHARED / a.person], work / "crops", size=a.size, progress=False)
    print(f"crops in {time.perf_counter() - t0:.0f} s ({a.person}); machine: {os.cpu_count()} cores; "
          f"{a.minutes} min per ablation, batch {a.batch}, width {a.width}, {a.size} px, device {a.device}")
    ckpts = []
    for tag, variant, n in ABLATIONS:
        cfg = FLNetConfig(steps=10**6, batch_size=a.batch, width=a.width, d_width=a.width, variant=variant,
                          bank_size=n, bank_pool=5, holdout=0.2, time_limit_s=a.minutes * 60, checkpoint_every=10**6,
                          device=a.device)
        t1 = time.perf_counter()
        ck = train_flnet(res.manifest_path, work / f"run-{tag}", cfg, progress=False, say=lambda m: None)
        from thead.train.checkpoint import load_checkpoint

        step = load_checkpoint(ck)["step"]
        print(f"{tag:>3} ({variant}, {n} bank images): {step} steps in {time.perf_counter() - t1:.0f} s")
        ckpts.append(ck)
    out = evaluate(ckpts, res.manifest_path, work / "eval", every=1, max_targets=200, device=a.device,
                   progress=False)
    print()
    print((work / "eval" / "metrics.md").read_text())
    rows = list(out["rows"].values())
    best = min(rows, key=lambda r: r["l1"])
    print(f"lowest L1: {best['variant']} {best['bank_size']}B; "
          f"full 5B ranks {sorted(r['l1'] for r in rows).index(rows[0]['l1']) + 1} of {len(rows)} on L1, "
          f"{sorted(r['fd_dlib'] for r in rows).index(rows[0]['fd_dlib']) + 1} of {len(rows)} on FD-dlib")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
