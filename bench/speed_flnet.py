"""FLNet speed on this machine: training steps/s (one step = --d-steps discriminator updates + one generator update,
the paper's schedule) and synthesis frames/s, at 128 and 224 px, with peak memory; plus two ratios measured in the
same process: a step with the paper's 5 D updates against one with none, and batched synthesis against one frame
at a time.

    python bench/speed_flnet.py [--width 64] [--batch 8] [--steps 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CLIP = "videos/LivePortrait_d20.mp4"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=64, help="generator width (paper: 64)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2, help="timed steps (after one warm-up step)")
    ap.add_argument("--d-steps", type=int, default=5)
    ap.add_argument("--frames", type=int, default=24, help="synthesized frames timed")
    ap.add_argument("--sizes", default="128,224")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import numpy as np
    import torch

    from thead.stages import crop
    from thead.systems.flnet.bank import make_banks
    from thead.systems.flnet.synthesize import FLNetModel
    from thead.systems.flnet.train import FLNetConfig, train_flnet

    work = Path(tempfile.mkdtemp(prefix="thead-speed-flnet-"))
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {a.device}; width {a.width}, batch {a.batch}, {a.d_steps} D updates per G update")
    vgg = work / "vgg16.pth"  # random VGG16 weights: same cost as the real ones, no training of a face net
    from thead.systems.flnet.perceptual import VGG16Features

    torch.save({"features." + k: v for k, v in VGG16Features().features.state_dict().items()}, vgg)

    def step_time(manifest, size, d_steps, tag):
        stamps = []
        cfg = FLNetConfig(steps=a.steps + 1, batch_size=a.batch, width=a.width, d_width=a.width, d_steps=d_steps,
                          checkpoint_every=10**6, device=a.device)
        train_flnet(manifest, work / f"run-{size}-{tag}", cfg, vgg_weights=vgg, progress=False,
                    on_step=lambda s: stamps.append(time.perf_counter()), say=lambda m: None)
        return (stamps[-1] - stamps[0]) / a.steps

    for size in map(int, a.sizes.split(",")):
        res = crop.run([SHARED / CLIP], work / f"crops{size}", size=size, progress=False)
        t5 = step_time(res.manifest_path, size, a.d_steps, "d5")
        t0 = step_time(res.manifest_path, size, 0, "d0")
        print(f"{size} px train: {1 / t5:.3f} steps/s ({a.batch / t5:.2f} samples/s), {t5:.2f} s/step; "
              f"{a.d_steps} D updates cost x{t5 / t0:.2f} a G-only step; peak RSS {_peak_mb():.0f} MB")
        bank_m = make_banks(res.manifest_path, work / f"bank{size}", 5, progress=False).manifest_path
        model = FLNetModel(work / f"run-{size}-d5" / "last.pt", a.device)
        bank = model.bank(bank_m)
        lmk = np.repeat(bank.landmarks[2:3], a.frames, 0)
        timings = {}
        for batch in (8, 1):
            list(model(bank, lmk[:2], batch=batch))  # warm-up
            t = time.perf_counter()
            n = len(list(model(bank, lmk, batch=batch)))
            if a.device.startswith("cuda"):
                torch.cuda.synchronize()
            timings[batch] = n / (time.perf_counter() - t)
        print(f"{size} px synthesis: {timings[8]:.1f} frames/s (batch 8), {timings[1]:.1f} frames/s one at a time "
              f"(x{timings[8] / timings[1]:.2f}); peak RSS {_peak_mb():.0f} MB")
    if a.device.startswith("cuda"):
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
