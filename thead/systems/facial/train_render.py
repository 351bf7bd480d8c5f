"""Training of FACIAL's rendering-to-video network (section 3.4, eq. 10-11; section 5.1: it is trained on the
reference video, render -> real frame) from ``render-face`` outputs. One step = one D^r update (LSGAN on real and
generated frames, halved as in pix2pixHD) and one G^r update (eq. 10). Adam (0.5, 0.999), lr 2e-4 as pix2pixHD (the
paper gives 1e-4 for FACIAL-GAN only).

The perceptual term uses VGG16 from ``vgg_weights`` or, said at start, dlib's pretrained face-recognition ResNet
(``flnet.perceptual.choose_perceptual``). Departure from the paper: an identity term ``lambda_id`` times the distance
of dlib face descriptors between generated and real frames (``identity_loss``), so that short CPU runs keep the
person (issue 11); ``lambda_id = 0`` gives eq. 10 exactly. Run folder as every thead trainer, plus ``samples.png``
(render | generated | real for a fixed batch) at each checkpoint.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from thead.errors import InputError
from thead.train.amp import autocast
from thead.train.loop import fit, linear_decay, prepare_run_dir, seed_all, steps_for_epochs, write_run_files
from thead.systems.facial.config import Render2VideoConfig  # noqa: F401 (the settings live there)


@dataclass
class RenderClip:
    id: str
    renders: object  # torch uint8 (T, 4, S, S)
    frames: object  # torch uint8 (T, 3, S, S)
    landmarks: np.ndarray  # (T, 68, 2) crop px


def load_render_clips(manifest: Path, only: Optional[list[str]] = None) -> list[RenderClip]:
    """The done items of a ``render-face`` manifest (``only``: these ids), in memory as uint8.

    Raises:
        InputError: not a render-face manifest, or no item.
    """
    import torch
    from PIL import Image

    from thead.manifest import load_manifest
    from thead.manifest.roles import require_role
    from thead.media import read_image

    lm = load_manifest(manifest, "thead.frames")
    clips = []
    for it in lm.done():
        if only and it.id not in only:
            continue
        require_role(manifest, it, "render")
        if "renders" not in it.outputs:
            raise InputError(f"{manifest}: item {it.id} has no renders; make them with 'thead render-face'")
        rs = sorted(lm.output(it, "renders").glob("*.png"))
        fs = sorted(lm.output(it, "frames").glob("*.png"))
        ref = np.load(lm.output(it, "reference"))
        r = np.stack([np.asarray(Image.open(p).convert("RGBA")) for p in rs])
        f = np.stack([read_image(p) for p in fs])
        clips.append(RenderClip(it.id, torch.from_numpy(r).permute(0, 3, 1, 2).contiguous(),
                                torch.from_numpy(f).permute(0, 3, 1, 2).contiguous(), ref["landmarks"]))
    if not clips:
        raise InputError(f"{manifest}: no rendered clips")
    return clips


def stack_renders(renders, t: int, n_w: int):
    """(2 N_w x 4, S, S) float in [-1, 1]: renders t - N_w .. t + N_w - 1 (edges repeated), current at N_w."""
    from thead.systems.facial.render2video import window_indices
    from thead.train.images import to_model_range

    x = to_model_range(renders[window_indices(t, n_w, len(renders))])
    return x.reshape(-1, *x.shape[-2:])


def sample(clips: list[RenderClip], batch: int, n_w: int, gen, device) -> tuple:
    """(stacked renders (B, 8 N_w, S, S), real frames (B, 3, S, S)) in [-1, 1], drawn with ``gen``."""
    import torch

    from thead.train.images import to_model_range

    xs, ys = [], []
    for _ in range(batch):
        c = clips[int(torch.randint(len(clips), (), generator=gen))]
        t = int(torch.randint(len(c.frames), (), generator=gen))
        xs.append(stack_renders(c.renders, t, n_w))
        ys.append(to_model_range(c.frames[t]))
    return torch.stack(xs).to(device), torch.stack(ys).to(device)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def train_render2video(manifest: Path, out_dir: Path, cfg: Render2VideoConfig, vgg_weights: Optional[Path] = None,
                       face_net: Optional[Path] = None, resume: bool = False, progress: bool = True, argv=None,
                       on_step: Optional[Callable[[int], None]] = None,
                       say: Callable[[str], None] = _stderr, clips: Optional[list[str]] = None) -> Path:
    """Train G^r and D^r on a ``render-face`` manifest. Returns the last checkpoint's path.

    Raises:
        InputError: bad data or sizes; TheadError: an existing run without ``resume``.
    """
    import torch

    from thead.systems.facial import render2video as R
    from thead.systems.flnet.losses import perceptual_loss
    from thead.systems.flnet.perceptual import choose_perceptual, identity_network, perceptual_and_identity
    from thead.train import dist
    from thead.train.checkpoint import load_checkpoint, restore

    out_dir = Path(out_dir)
    last = prepare_run_dir(out_dir, resume)
    d = dist.setup(cfg.device)
    clips = load_render_clips(manifest, clips)
    size = clips[0].frames.shape[-1]
    if size % 8:
        raise InputError(f"render size {size} is not a multiple of 8")
    if not 0.0 <= cfg.lr_decay <= 1.0:
        raise InputError(f"--lr-decay must be in [0, 1], got {cfg.lr_decay}")
    if cfg.epochs > 0:  # the paper's unit: 50 epochs over the reference's frames
        cfg.steps = steps_for_epochs(cfg.epochs, sum(len(c.frames) for c in clips), cfg.batch_size, d.world_size)
    gen = seed_all(cfg.seed + d.rank)

    perc, perc_name = choose_perceptual(vgg_weights, face_net, say, "perceptual loss (FACIAL eq. 10)")
    perc = perc.to(d.device)
    ident = identity_network(perc, cfg.lambda_id, d.device)
    blob = load_checkpoint(last) if last else None
    if blob is not None and cfg.arch == "auto":  # a resumed run keeps its architecture whatever the device
        cfg.arch = blob.get("config", {}).get("arch", "pix2pixhd")
    try:
        cfg.arch = R.resolve_arch(cfg.arch, cfg.device)
    except ValueError as e:
        raise InputError(str(e)) from None
    say(f"rendering-to-video generator: {cfg.arch}"
        + (" (thead's CPU choice: a U-Net correcting the render; the paper's is pix2pixhd)"
           if cfg.arch == "unet-residual" else " (pix2pixHD's global generator, as the paper)"))
    G = R.make_generator(cfg.arch, cfg.n_w, cfg.width).to(d.device)
    D = R.MultiScaleD(cfg.n_w, cfg.d_width).to(d.device)
    models = {"G": dist.wrap(G, d), "D": dist.wrap(D, d)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) for k, m in (("G", G), ("D", D))}
    conf = dict(asdict(cfg), system="render2video", size=size, perceptual=perc_name, manifest=str(manifest),
                clips=[c.id for c in clips])
    start = restore(blob, models, opts, gen) if blob is not None else 0
    if d.is_main:
        write_run_files(out_dir, conf, argv)
    fixed = sample(clips, min(4, cfg.batch_size), cfg.n_w, torch.Generator().manual_seed(7), d.device)
    Gw, Dw = models["G"], models["D"]

    def step_fn(step, fetch):
        if cfg.lr_decay > 0:  # "a learning rate decay for the last 30 epochs" (of 50; pix2pixHD's linear)
            for o in opts.values():
                for group in o.param_groups:
                    group["lr"] = cfg.lr * linear_decay(step, cfg.steps, cfg.lr_decay)
        x, real = fetch(lambda: sample(clips, cfg.batch_size, cfg.n_w, gen, d.device), cfg.batch_size)
        with autocast(d.device, cfg.amp):
            fake = Gw(x)
            loss_d = 0.5 * (R.lsgan(Dw(x, fake.detach()), False) + R.lsgan(Dw(x, real), True))
        opts["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        opts["D"].step()
        with autocast(d.device, cfg.amp):
            d_fake, d_real = Dw(x, fake), Dw(x, real)
            terms = {"gan": R.lsgan(d_fake, True), "fm": R.feature_matching(d_fake, d_real),
                     "l1": ((fake - real).abs() * R.face_weight(x, cfg.n_w, cfg.w_face)).mean()}
            f_fake, f_real, id_loss = perceptual_and_identity(perc, ident, fake, real)
            if id_loss is not None:
                terms["identity"] = id_loss
            terms["perceptual"] = perceptual_loss(f_fake, f_real)
            loss_g = (terms["gan"] + cfg.lambda_fm * terms["fm"] + cfg.lambda_p * terms["perceptual"]
                      + cfg.lambda_l1 * terms["l1"] + cfg.lambda_id * terms.get("identity", 0.0))
        opts["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["G"].step()
        return {"d": float(loss_d.detach()), **{k: float(v.detach()) for k, v in terms.items()},
                "g": float(loss_g.detach())}

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models=models, optimizers=opts, config=conf,
               generator=gen, is_main=d.is_main, label="train render2video",
               title="rendering-to-video (FACIAL eq. 10)", stage="train render2video", argv=argv, progress=progress,
               on_step=on_step, on_checkpoint=lambda: _samples(G, fixed, cfg.n_w, out_dir / "samples.png"), say=say)


def _samples(G, fixed, n_w: int, path: Path) -> Path:
    import torch

    from thead.media import write_image
    from thead.train.images import to_uint8

    x, real = fixed
    was = G.training
    G.eval()
    with torch.no_grad():
        fake = G(x)
    G.train(was)

    cur = x[:, 4 * n_w:4 * n_w + 3]  # the current frame's render
    rows = [np.concatenate([to_uint8(cur[b]), to_uint8(fake[b]), to_uint8(real[b])], 1) for b in range(len(x))]
    return write_image(path, np.concatenate(rows, 0))
