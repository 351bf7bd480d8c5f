"""GATH quality for a fixed CPU/GPU budget: trains the AU estimator and the three variants (GATH, GATH-C, GATH-DC)
on ../shared/data clips (source: portraits + the clips' frames; target: the clips' frames with AUs), then prints

  * for the test portraits: mouth AUs (AU12, AU25, AU26, 0-5, measured by thead's AU chain) of the input and of
    ``synthesize gath --au zeros``, and the dlib identity distance input -> output (< 0.6 = same person);
  * paper Table 1 (pixel MAE/RMSE, +/- CLAHE, full/face mask) and Tables 2/3 (AU RMSE intra/inter) on held-out
    clips, one row per variant.

    python bench/quality_gath.py --minutes 20 [--device cpu] [--batch 16] [--width 32]

The budget is split: 1/7 for the AU estimator, 2/7 per variant. A CPU budget of minutes trains far less than the
paper (which trained on 2,228 identities); read the figures as a comparison between variants under one budget.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from gath_common import SHARED, SOURCE_PORTRAITS, TEST_CLIPS, TEST_PORTRAITS, TRAIN_CLIPS, build


def _steps_for(seconds: float, step_s: float) -> int:
    return max(1, int(seconds / max(step_s, 1e-3)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    import numpy as np

    from thead.face.au import AU_COLUMNS
    from thead.media import read_image
    from thead.metrics.au import ImageAUs
    from thead.metrics.identity import FaceEmbedder, descriptor_distance
    from thead.systems.gath.evaluate import evaluate, markdown_tables
    from thead.systems.gath.synthesize import run as synth_run
    from thead.systems.gath.train import TrainConfig, train_aue, train_gath

    work = Path(a.work or tempfile.mkdtemp(prefix="thead-quality-gath-"))
    t0 = time.perf_counter()
    frames, au = build(work, TRAIN_CLIPS, SOURCE_PORTRAITS, "train")
    test_frames, test_au = build(work, TEST_CLIPS, [], "test")
    print(f"data built in {time.perf_counter() - t0:.0f} s; machine: {os.cpu_count()} cores; budget {a.minutes} min, "
          f"batch {a.batch}, width {a.width}, device {a.device}")
    budget = a.minutes * 60

    def timed_train(fn, seconds, **kw):
        """Train a couple of steps to time one, then continue (resume) to fill the budget."""
        stamps = []
        cfg = TrainConfig(steps=3, batch_size=a.batch, width=a.width, device=a.device, checkpoint_every=50, **kw)
        fn(cfg, False, stamps)
        step_s = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)
        cfg.steps = max(3, _steps_for(seconds, step_s))
        return fn(cfg, True, stamps), cfg.steps

    def aue_fn(cfg, resume, stamps):
        return train_aue(frames, au, work / "aue", cfg, resume, False, on_step=lambda s: stamps.append(
            time.perf_counter()))

    aue, n = timed_train(aue_fn, budget / 7)
    print(f"AU estimator: {n} steps")
    ckpts = {}
    for variant in ("gath", "gath-c", "gath-dc"):
        def gath_fn(cfg, resume, stamps, variant=variant):
            return train_gath(frames, frames, au, aue, work / variant, cfg, resume, False,
                              on_step=lambda s: stamps.append(time.perf_counter()))

        ckpts[variant], n = timed_train(gath_fn, 2 * budget / 7, variant=variant)
        print(f"{variant}: {n} steps")

    au_est, emb = ImageAUs(), FaceEmbedder()
    mouth = [AU_COLUMNS.index(c) for c in ("AU12_r", "AU25_r", "AU26_r")]
    print("\nneutralize (--au zeros): mouth AUs AU12/AU25/AU26 (0-5) of input -> output, identity distance")
    for variant, ck in ckpts.items():
        for p in TEST_PORTRAITS:
            out = work / "neutral" / variant
            synth_run([SHARED / p], ck, "zeros", out, progress=False)
            m = json.loads((out / "manifest.json").read_text())
            it = [i for i in m["items"] if i["id"] == Path(p).stem][0]
            src = read_image(out / it["outputs"]["frontal"])
            res = read_image(out / it["outputs"]["image"])
            a_in, a_out = au_est(src)[mouth], au_est(res)[mouth]
            d = descriptor_distance(emb(src), emb(res))
            print(f"  {variant:<8} {Path(p).stem:<24} {np.round(a_in, 2)} -> {np.round(a_out, 2)}  "
                  f"identity {d:.3f}")
    res = evaluate(list(ckpts.values()), test_frames, test_au, work / "eval", every=5, max_targets=8,
                   device=a.device, progress=False)
    print()
    print(markdown_tables(res))
    print(f"outputs under {work}")


if __name__ == "__main__":
    main()
