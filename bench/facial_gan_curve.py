"""FACIAL-GAN's general pretraining against held-out speakers: does more training move the mouth? (issue 11,
``mouth_lmd_ratio``; the learning curve the issue asks for, on the audio side).

    python bench/facial_gan_curve.py --audio CORPUS/audio/manifest.json --au CORPUS/au/manifest.json \\
        --heldout ID --heldout ID ... --batch-size 64 --epochs 50 --snapshots 6 --json out.json

Trains FACIAL-GAN (``thead.systems.facial.train``) on every clip of the manifests but the held-out ones, keeping a
copy of the weights at ``--snapshots`` evenly spaced steps, then scores each copy on each held-out clip, zero-shot
(no fine-tuning), the way ``synthesize facial`` predicts: the clip's last 20% predicted from its own speech, the
initial state and the mean expression taken from its first 80% (``match_expression``).

Scores are in the face model's own space, so no renderer, rendering-to-video network or detector stands between the
audio model and the figure: the 20 ibug mouth points of the face model (``FaceModel.landmarks68[48:68]``) under each
frame's expression coefficients, seen from the front (x, y), centred per frame, in units of the model's
inter-ocular distance. ``mouth_ratio`` is the mean per-point distance to the fitted tail's mouth over that of a
still mouth (the tail's own mean expression: the quality bench's oracle still mouth), so 1.0 is a still mouth and the
bench's ``mouth_lmd_ratio`` target is 0.8; ``head_still_ratio`` is the same for the first 80%'s mean mouth held
still (what a still mouth scores without the oracle). ``opening_r``: Pearson r of the predicted and fitted inner-lip
opening (ibug 62-66). ``jaw_r``: the same for the jawOpen coefficient where the face model has one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def mouth_points(model, exp: np.ndarray) -> np.ndarray:
    """(T, 20, 2) frontal mouth points of expression coefficients (T, K), centred, in model inter-ocular units."""
    m = model.landmarks68[48:68]
    pts = model.mean_shape[m][None] + np.einsum("tk,kmc->tmc", exp, model.exp_basis[:, m])
    pts = pts[..., :2] - pts[..., :2].mean(1, keepdims=True)
    iod = np.linalg.norm(model.mean_shape[model.landmarks68[45], :2] - model.mean_shape[model.landmarks68[36], :2])
    return pts / iod


def opening(q: np.ndarray) -> np.ndarray:
    """(T,) inner-lip opening of mouth points (T, 20, 2): ibug 66 minus ibug 62 along y."""
    return q[:, 18, 1] - q[:, 14, 1]


def _r(x, y) -> float:
    return float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else float("nan")


def score(ckpt: Path, clips: list, model) -> dict:
    """Mean figures over the held-out clips for one FACIAL-GAN checkpoint."""
    from thead.systems.facial.params import EXP_START
    from thead.systems.facial.predict import FacialGAN
    from thead.systems.facial.synthesize import match_expression

    gan = FacialGAN(ckpt)
    jaw = next((k for k, n in enumerate(gan.names[EXP_START:]) if "jawopen" in n.lower()), None)
    rows = []
    for c in clips:
        n = len(c.audio)
        cut = int(round(0.8 * n))
        norm = c.ref.normalized()
        pred = gan(c.audio[cut:], norm[0])
        pred = match_expression(pred, norm[:cut])
        true_e, pred_e = c.ref.params[cut:, EXP_START:], pred[:, EXP_START:]
        t, p = mouth_points(model, true_e), mouth_points(model, pred_e)
        still = mouth_points(model, true_e.mean(0, keepdims=True))
        d_pred = np.linalg.norm(p - t, axis=-1).mean()
        d_still = np.linalg.norm(still - t, axis=-1).mean()
        head = mouth_points(model, c.ref.params[:cut, EXP_START:].mean(0, keepdims=True))
        rows.append(dict(clip=c.id, frames=n - cut, mouth_ratio=float(d_pred / d_still),
                         head_still_ratio=float(np.linalg.norm(head - t, axis=-1).mean() / d_still),
                         opening_r=_r(opening(p), opening(t)),
                         jaw_r=_r(pred_e[:, jaw], true_e[:, jaw]) if jaw is not None else float("nan")))
    mean = {k: float(np.nanmean([r[k] for r in rows]))
            for k in ("mouth_ratio", "head_still_ratio", "opening_r", "jaw_r")}
    return dict(step=gan.step, **mean, clips=rows)


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", type=Path, required=True)
    ap.add_argument("--au", type=Path, required=True)
    ap.add_argument("--heldout", action="append", required=True, help="Item id never trained on (repeatable).")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=float, default=50.0, help="Paper: 50 (general training).")
    ap.add_argument("--steps", type=int, default=0, help="Steps instead of --epochs.")
    ap.add_argument("--snapshots", type=int, default=6)
    ap.add_argument("--w-mouth", type=float, default=0.0)
    ap.add_argument("--hidden", type=int, default=128, help="G_tem GRU width (thead's default 128).")
    ap.add_argument("--width", type=int, default=64, help="G_loc channels (thead's default 64).")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--score-only", action="store_true", help="Score the snapshots already in --work.")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    for p in (a.audio, a.au):
        if not p.is_file():
            sys.exit(f"error: {p} not found")
    os.environ.setdefault("THEAD_ALLOW_OUTSIDE", "/")
    from thead.face.facemodel import load_face_model
    from thead.systems.facial.config import FacialGANConfig
    from thead.systems.facial.data import WindowSampler, load_clips
    from thead.systems.facial.train import train_facial_gan
    from thead.train.loop import steps_for_epochs

    every = load_clips(a.audio, a.au)
    ids = [c.id for c in every]
    missing = [h for h in a.heldout if h not in ids]
    if missing:
        sys.exit(f"error: held-out ids not in the manifests: {', '.join(missing)}")
    train_ids = [i for i in ids if i not in a.heldout]
    held = [c for c in every if c.id in a.heldout]
    cfg = FacialGANConfig(batch_size=a.batch_size, w_mouth=a.w_mouth, hidden=a.hidden, width=a.width,
                          checkpoint_every=10**9)
    n_windows = len(WindowSampler([c for c in every if c.id in train_ids], cfg.window, cfg.hop))
    steps = a.steps or steps_for_epochs(a.epochs, n_windows, a.batch_size, 1)
    base = max(1, steps // a.snapshots)  # snapshots at base, 2 base, ...: every one a checkpoint step
    steps = cfg.steps = base * a.snapshots
    marks = [base * (k + 1) for k in range(a.snapshots)]
    snaps = a.work / "snapshots"
    times = {}
    if not a.score_only:
        if a.work.exists():
            sys.exit(f"error: {a.work} exists (use --score-only, or another --work)")
        snaps.mkdir(parents=True)
        t0 = time.perf_counter()

        def on_step(step: int) -> None:
            if step in marks:
                times[step] = (time.perf_counter() - t0) / 60
                shutil.copy(a.work / "run" / "last.pt", snaps / f"step{step:07d}.pt")

        cfg.checkpoint_every = base  # fit writes last.pt, then calls on_step
        train_facial_gan(a.audio, a.au, a.work / "run", cfg, clips=train_ids, progress=True, on_step=on_step)
        (a.work / "times.json").write_text(json.dumps(times))
    times = {int(k): v for k, v in json.loads((a.work / "times.json").read_text()).items()} \
        if (a.work / "times.json").is_file() else times
    model = load_face_model()
    curve = []
    for p in sorted(snaps.glob("step*.pt")):
        s = score(p, held, model)
        s["minutes"] = round(times.get(s["step"], float("nan")), 2)
        curve.append(s)
        print(f"step {s['step']:6d}  {s['minutes']:6.2f} min  mouth_ratio {s['mouth_ratio']:.3f}  "
              f"(still {s['head_still_ratio']:.3f})  opening_r {s['opening_r']:.3f}  jaw_r {s['jaw_r']:.3f}",
              flush=True)
    res = dict(train_clips=len(train_ids), heldout=a.heldout, train_windows=n_windows, batch_size=a.batch_size,
               steps=steps, epochs=steps * a.batch_size / n_windows, w_mouth=a.w_mouth, hidden=a.hidden,
               width=a.width, cores=os.cpu_count(),
               curve=curve)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
