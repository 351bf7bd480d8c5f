"""FACIAL's rendering-to-video network in the paper's setting, on a GPU (issue 11: "if a GPU is lent, also run the
paper's setting (512 px, pix2pixHD, full steps) and report its figures and GPU utilisation").

    # on the GPU machine: train for a budget, write held-out frames
    python bench/paper_facial_r2v.py train --train RENDERS/manifest.json --heldout TAIL/manifest.json \\
        --minutes 7 --device cuda --out DIR
    # here: score the held-out frames (CPBD and dlib need the CPU packages)
    python bench/paper_facial_r2v.py score DIR/heldout.npz --json out.json

The paper's setting (FACIAL section 4, "Implementation details"): pix2pixHD's global generator (width 64) and
multi-scale discriminators, batch 1, 512 px renders of the reference's 3DMM fit with the eye attention map, eq. 10
with lambda_1 = 2, lambda_2 = 10, lambda_3 = 50 (``lambda_id = 0``, ``w_face = 0``: thead's departures off), 50 epochs
over the reference's frames (``--steps 0``), pix2pixHD's learning rate 2e-4 falling linearly to 0 over the last 30
(``--lr-decay 0.6``). One departure remains: the perceptual term uses dlib's face ResNet (no VGG16 file can be
fetched here); ``--amp`` (bf16 autocast) is a speed setting the paper does not use. ``--minutes`` stops the run
early if the budget ends first. ``train`` writes ``result.json`` (steps, steps/s, peak GPU memory, the projected
time of 50 epochs, and the learning curve: held-out L1 every ``--curve-every`` steps) and ``heldout.npz``:
generated and real frames of up to 12 evenly spaced frames of ``--heldout`` (a render-face manifest of frames never
trained on, e.g. the reference's last 20% fitted on its own). ``score`` adds
held-out L1 (0-255), CPBD of generated over real, and the dlib distance of generated to real frames.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

EPOCHS = 50  # FACIAL: "the training process takes 50 epochs with a batch size of 1"


def _heldout(G, held, n_w: int, device, keep=()) -> tuple[float, list]:
    """Mean L1 (0-255) of G's output over every held-out frame, and the outputs at the indices in ``keep``."""
    import torch

    from thead.systems.facial.train_render import stack_renders
    from thead.train.images import to_uint8

    was = G.training
    G.eval()
    out, l1 = [], []
    with torch.no_grad():
        for t in range(len(held.frames)):
            g = to_uint8(G(stack_renders(held.renders, t, n_w)[None].to(device))[0].float())
            l1.append(float(np.abs(g.astype(np.float32) - held.frames[t].permute(1, 2, 0).numpy()).mean()))
            if t in keep:
                out.append(g)
    G.train(was)
    return float(np.mean(l1)), out


def train(a) -> dict:
    import torch

    from thead.systems.facial import render2video as R
    from thead.systems.facial.train_render import Render2VideoConfig, load_render_clips, train_render2video
    from thead.train.checkpoint import load_checkpoint

    a.out.mkdir(parents=True, exist_ok=True)
    clips = load_render_clips(a.train)
    n_frames = sum(len(c.frames) for c in clips)
    size = int(clips[0].frames.shape[-1])
    del clips
    held = load_render_clips(a.heldout)[0]
    paper_steps = EPOCHS * n_frames
    cfg = Render2VideoConfig(steps=int(a.steps or paper_steps), batch_size=1, arch="pix2pixhd", width=64, d_width=64,
                             lambda_id=0.0, w_face=0.0, lr_decay=a.lr_decay, amp=a.amp,
                             time_limit_s=a.minutes * 60, checkpoint_every=a.curve_every, device=a.device)
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    run = a.out / "run"
    prev = json.loads((a.out / "result.json").read_text()) if a.resume and (a.out / "result.json").is_file() else {}
    curve, before = list(prev.get("curve", []))[:-1], float(prev.get("train_seconds", 0.0))
    G_eval = R.make_generator("pix2pixhd", cfg.n_w, cfg.width).to(a.device)
    t0 = time.perf_counter()

    def on_step(step: int) -> None:  # after the checkpoint of this step is written (thead.train.loop.fit)
        if step % cfg.checkpoint_every or step == cfg.steps:
            return
        G_eval.load_state_dict(load_checkpoint(run / "last.pt")["models"]["G"])
        l1, _ = _heldout(G_eval, held, cfg.n_w, a.device)
        minutes = round((before + time.perf_counter() - t0) / 60, 2)
        curve.append(dict(step=step, minutes=minutes, heldout_l1=round(l1, 3)))
        print(json.dumps(curve[-1]), flush=True)

    train_render2video(a.train, run, cfg, progress=False, on_step=on_step, resume=a.resume)
    wall = before + time.perf_counter() - t0
    blob = load_checkpoint(run / "last.pt")
    steps = int(blob["step"])
    G_eval.load_state_dict(blob["models"]["G"])
    idx = np.unique(np.linspace(0, len(held.frames) - 1, min(12, len(held.frames))).round().astype(int))
    l1, gen = _heldout(G_eval, held, cfg.n_w, a.device, keep=set(idx.tolist()))
    curve.append(dict(step=steps, minutes=round(wall / 60, 2), heldout_l1=round(l1, 3)))
    real = held.frames[idx].permute(0, 2, 3, 1).numpy()
    np.savez_compressed(a.out / "heldout.npz", generated=np.stack(gen), real=real, index=idx)
    logged = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()] \
        if (run / "log.jsonl").is_file() else []
    rate = float(logged[-1].get("steps_per_s", 0.0)) if logged else 0.0
    rate = rate or steps / wall  # the trainer's own rate leaves out loading and start-up
    res = dict(size=size, train_frames=n_frames, steps=steps, train_seconds=round(wall, 1), steps_per_s=rate,
               paper_steps=paper_steps, paper_fraction_done=steps / paper_steps,
               paper_hours_projected=paper_steps / rate / 3600, lr_decay=cfg.lr_decay, amp=cfg.amp,
               heldout_frames=len(held.frames), heldout_l1=l1, curve=curve, device=a.device,
               gpu=torch.cuda.get_device_name() if a.device.startswith("cuda") else None,
               peak_gpu_memory_gib=(torch.cuda.max_memory_allocated() / 2**30 if a.device.startswith("cuda")
                                    else None), generator_params_m=sum(p.numel() for p in G_eval.parameters()) / 1e6)
    (a.out / "result.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return res


def score(a) -> dict:
    from thead.metrics.identity import FaceEmbedder
    from thead.metrics.sharpness import cpbd

    z = np.load(a.npz)
    gen, real = z["generated"], z["real"]
    emb = FaceEmbedder()
    dist = []
    for g, r in zip(gen, real):
        eg, er = emb(g), emb(r)
        if eg is not None and er is not None:
            dist.append(float(np.linalg.norm(eg - er)))
    cg, cr = float(np.mean([cpbd(g) for g in gen])), float(np.mean([cpbd(r) for r in real]))
    res = dict(frames=len(gen), l1_sampled=float(np.abs(gen.astype(np.float32) - real).mean()), cpbd_generated=cg,
               cpbd_real=cr, cpbd_ratio=cg / cr, identity_distance=float(np.mean(dist)) if dist else float("nan"),
               faces_found=len(dist))
    train_json = a.npz.parent / "result.json"
    if train_json.is_file():
        res = {**json.loads(train_json.read_text()), **res}
    if a.sheet:
        from thead.media import write_image

        rows = [np.concatenate([g, t], 1) for g, t in zip(gen, real)][:6]
        write_image(a.sheet, np.concatenate(rows, 0))
    print("| figure | value |\n|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--train", type=Path, required=True, help="render-face manifest of the reference (512 px).")
    t.add_argument("--heldout", type=Path, required=True, help="render-face manifest of held-out frames.")
    t.add_argument("--minutes", type=float, default=7.0, help="Wall-clock limit of the training (it stops early).")
    t.add_argument("--steps", type=int, default=0, help="Steps (0: the paper's 50 epochs over the frames).")
    t.add_argument("--lr-decay", type=float, default=0.6,
                   help="Fraction of the steps, at the end, with a linearly falling lr (paper: last 30 of 50 epochs).")
    t.add_argument("--amp", action="store_true", help="bf16 autocast (not in the paper; a speed setting).")
    t.add_argument("--curve-every", type=int, default=1500, help="Held-out L1 every this many steps.")
    t.add_argument("--resume", action="store_true", help="Continue the run in --out (its curve and time too).")
    t.add_argument("--device", default="cuda")
    t.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("npz", type=Path)
    s.add_argument("--json", type=Path, default=None)
    s.add_argument("--sheet", type=Path, default=None, help="PNG: generated | real, 6 rows.")
    a = ap.parse_args()
    for p in ([a.train, a.heldout] if a.cmd == "train" else [a.npz]):
        if not p.is_file():
            sys.exit(f"error: {p} not found")
    os.environ.setdefault("THEAD_ALLOW_OUTSIDE", "/")
    train(a) if a.cmd == "train" else score(a)


if __name__ == "__main__":
    main()
