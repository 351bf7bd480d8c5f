"""GATH speed on this machine: training steps/s at batch 64 (the paper's batch, width 64) per variant, and
synthesis images/s (generator only, and the whole synthesize path: detect, frontalize, generate, paste back).

    python bench/speed_gath.py [--steps 3] [--batch 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gath_common import SHARED, build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import numpy as np
    import torch

    from thead.media import read_image
    from thead.systems.gath.synthesize import GathGenerator, run as synth_run
    from thead.systems.gath.train import TrainConfig, train_aue, train_gath

    work = Path(tempfile.mkdtemp(prefix="thead-speed-gath-"))
    frames, au = build(work, ["videos/LivePortrait_d20.mp4", "videos/video-retalking_face_1.mp4"], [], "data")
    aue = train_aue(frames, au, work / "aue", TrainConfig(steps=1, batch_size=4, width=a.width, device=a.device),
                    progress=False)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {a.device}; batch {a.batch}, width {a.width}")
    for variant in ("gath", "gath-c", "gath-dc"):
        stamps = []
        train_gath(frames, frames, au, aue, work / variant, TrainConfig(
            steps=a.steps + 1, batch_size=a.batch, width=a.width, device=a.device, variant=variant,
            checkpoint_every=10**6), progress=False, on_step=lambda s: stamps.append(time.perf_counter()))
        sps = (len(stamps) - 1) / (stamps[-1] - stamps[0])  # first step (warm-up) excluded
        print(f"train {variant:<8} {sps:7.3f} steps/s  ({sps * a.batch:6.1f} images/s)")
    G = GathGenerator(work / "gath" / "last.pt", a.device)
    face = read_image(sorted((work / "data" / "frontal").glob("*.frames"))[0] / "000010.png")
    coeffs = np.random.default_rng(0).uniform(0, 1, (256, G.n_au)).astype(np.float32)
    src = coeffs[0] if G.warps else None
    G(face, coeffs[:8], src)
    t = time.perf_counter()
    G(face, coeffs, src)
    print(f"synthesis, generator only (batches of 64): {256 / (time.perf_counter() - t):7.1f} images/s")
    portrait = SHARED / "portraits" / "SadTalker_happy1.png"
    t = time.perf_counter()
    n = 3
    for i in range(n):
        synth_run([portrait], work / f"syn{i}", work / "gath" / "last.pt", "zeros", paste_back=True, device=a.device,
                  progress=False)
    print(f"synthesize gath --au zeros --paste-back, whole command path per portrait: "
          f"{n / (time.perf_counter() - t):7.2f} portraits/s (includes loading G and dlib each time)")


if __name__ == "__main__":
    main()
