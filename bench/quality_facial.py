"""FACIAL quality for a CPU/GPU budget: trains FACIAL-GAN on ../shared/data clips, fine-tunes it on one reference
clip, trains the rendering-to-video network on that clip, then drives the person (a) with the clip's own audio (a
reconstruction, whose mouth LMD against the real video measures lip sync) and (b) with a different speech file, and
prints blinks/s, blink duration, LMD, CPBD, pose statistics and the mouth-audio correlation for both, next to the same
figures for the real reference video.

    python bench/quality_facial.py --minutes 15 [--device cpu] [--size 128] [--width 16]
                                   [--syncnet-weights syncnet_v2.model]

With SyncNet weights (syncnet_python's syncnet_v2.model) the tables also give the SyncNet offset, LSE-D and LSE-C.

The budget is split 25% FACIAL-GAN, 15% fine-tuning, 60% rendering-to-video. Minutes of CPU are far from the paper's
training (450 one-minute clips, 50 epochs); read the figures as what this budget gives.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
REFERENCE = "videos/video-retalking_face_4.mp4"
OTHERS = ["videos/video-retalking_face_3.mp4", "videos/LivePortrait_d20.mp4", "videos/TPSMM_driving.mp4"]
SPEECH = "audio/video-retalking_audio_2.wav"


def timed(fn, budget_s: float, make_cfg, **kw):
    """Train 2 steps to time one, then resume to fill ``budget_s``."""
    stamps = []
    t0 = time.perf_counter()
    fn(cfg=make_cfg(2), on_step=lambda s: stamps.append(time.perf_counter()), **kw)
    step_s = (stamps[-1] - stamps[0]) if len(stamps) > 1 else 1.0
    steps = max(3, 2 + int((budget_s - (time.perf_counter() - t0)) / max(step_s, 1e-3)))
    fn(cfg=make_cfg(steps), resume=True, **kw)
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--work", default=None)
    ap.add_argument("--syncnet-weights", type=Path, default=None)
    a = ap.parse_args()

    from thead.stages import au, audio_features, render_face
    from thead.systems.facial.evaluate import evaluate
    from thead.systems.facial.synthesize import synthesize
    from thead.systems.facial.train import FacialGANConfig, train_facial_gan
    from thead.systems.facial.train_render import Render2VideoConfig, train_render2video

    work = Path(a.work or tempfile.mkdtemp(prefix="thead-quality-facial-"))
    t0 = time.perf_counter()
    ref_id = Path(REFERENCE).stem
    aur = au.run([SHARED / REFERENCE] + [SHARED / o for o in OTHERS], work / "au", preview=False, progress=False)
    afr = audio_features.run([work / "au" / "3dmm" / "manifest.json"], work / "audio", preview=False, progress=False)
    rfr = render_face.run(aur.manifest_path, work / "render", size=a.size, progress=False)
    print(f"data in {time.perf_counter() - t0:.0f} s; machine: {os.cpu_count()} cores; budget {a.minutes} min, "
          f"{a.size} px, width {a.width}, device {a.device}; reference {REFERENCE}, speech {SPEECH}")
    budget = a.minutes * 60
    gan_dir, tuned_dir, r2v_dir = work / "gan", work / "gan-tuned", work / "r2v"

    def gan_cfg(steps):
        return FacialGANConfig(steps=steps, batch_size=16, device=a.device, checkpoint_every=10**6)

    n1 = timed(lambda **kw: train_facial_gan(afr.manifest_path, aur.manifest_path, gan_dir, progress=False, **kw),
               0.25 * budget, gan_cfg)
    n2 = timed(lambda **kw: train_facial_gan(afr.manifest_path, aur.manifest_path, tuned_dir,
                                             finetune=gan_dir / "last.pt", clips=[ref_id], progress=False, **kw),
               0.15 * budget, gan_cfg)

    def r2v_cfg(steps):
        return Render2VideoConfig(steps=steps, batch_size=2, width=a.width, d_width=a.width, device=a.device,
                                  checkpoint_every=10**6)

    n3 = timed(lambda **kw: train_render2video(rfr.manifest_path, r2v_dir, clips=[ref_id], progress=False,
                                               say=lambda m: None, **kw), 0.6 * budget, r2v_cfg)
    print(f"trained: FACIAL-GAN {n1} steps, fine-tuning {n2} steps, rendering-to-video {n3} steps "
          f"({(time.perf_counter() - t0) / 60:.1f} min so far)")
    own = work / f"{ref_id}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SHARED / REFERENCE), "-vn", str(own)], check=True)
    outs = []
    for speech in (own, SHARED / SPEECH):
        synthesize(speech, rfr.manifest_path, tuned_dir / "last.pt", r2v_dir / "last.pt", work / "synth",
                   item=ref_id, device=a.device)
        outs.append(work / "synth" / f"{speech.stem}.mp4")
    sync = dict(syncnet_weights=a.syncnet_weights, device=a.device)
    evaluate([outs[0]], work / "eval-reconstruction", ground_truth=SHARED / REFERENCE, **sync)
    res = evaluate([outs[1]], work / "eval", reference=SHARED / REFERENCE, **sync)
    print()
    print((work / "eval-reconstruction" / "metrics.md").read_text())
    print((work / "eval" / "metrics.md").read_text())
    print(f"work folder: {work}; total {(time.perf_counter() - t0) / 60:.1f} min")
    return res


if __name__ == "__main__":
    main()
