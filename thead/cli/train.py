from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import app, argv, progress_opt
from thead.systems.facial.config import FacialGANConfig as FG, Render2VideoConfig as RV
from thead.systems.flnet.config import FLNetConfig as FL
from thead.systems.gath.config import AUE_LR, TrainConfig as GA

train_app = typer.Typer(help="Train a system's networks: thead train SYSTEM ... (runs under torchrun unchanged).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")



def _announce(checkpoint: Path) -> None:
    """Print the run's checkpoint path once: under torchrun every rank returns from training, rank 0 speaks."""
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(f"checkpoint -> {checkpoint}", file=sys.stderr)

def _common(cfg, lr: float | None = None, batch_help: str = "Batch size per process.",
            width_help: str = "Channels of the first conv layer (network width)."):
    """The options every trainer has, their defaults read from the system's config dataclass (declared once)."""
    return dict(
        steps=typer.Option(cfg.steps, min=1, help="Training steps."),
        batch_size=typer.Option(cfg.batch_size, min=1, help=batch_help),
        lr=typer.Option(cfg.lr if lr is None else lr, callback=number(**POSITIVE), help="Adam learning rate."),
        width=typer.Option(cfg.width, min=4, help=width_help),
        checkpoint_every=typer.Option(cfg.checkpoint_every, min=1, help="Steps between checkpoints (last.pt)."),
        seed=typer.Option(cfg.seed, help="Random seed (rank is added under torchrun)."),
        device=typer.Option(cfg.device, help="cpu, cuda, cuda:N or auto."),
        amp=typer.Option(cfg.amp, "--amp/--no-amp", help="Mixed precision: bf16 autocast of the forward passes "
                         "(for GPUs; not in the papers)."),
        resume=typer.Option(False, "--resume", help="Continue the run in the output folder from last.pt."),
        time_limit=typer.Option(cfg.time_limit_s / 60, callback=number(**NON_NEGATIVE),
                                help="Stop with a checkpoint after this many minutes of training (a job's time slot; "
                                "continue with --resume). 0: no limit."),
    )


_C = _common(GA)
_A = _common(GA, lr=AUE_LR)
_F = _common(FL)
_FG = _common(FG, batch_help="Batch size per process (paper: 64; fine-tuning 16).")
_R = _common(RV, width_help="Generator width.")


@train_app.command("aue", epilog="Example: thead train aue --target-frames work/frontal/manifest.json "
                   "--target-au work/au/manifest.json -o runs/aue")
def train_aue(
    target_frames: Path = typer.Option(..., help="thead.frames manifest of frontalized target video frames."),
    target_au: Path = typer.Option(..., help="thead.au manifest of the same videos (AU coefficient vectors)."),
    output: Path = typer.Option(Path("runs/aue"), "-o", "--output", help="Run folder."),
    steps: int = _A["steps"], batch_size: int = _A["batch_size"], lr: float = _A["lr"],
    width: int = _A["width"], checkpoint_every: int = _A["checkpoint_every"], seed: int = _A["seed"],
    device: str = _A["device"], amp: bool = _A["amp"], resume: bool = _A["resume"],
    time_limit: float = _A["time_limit"], progress: bool = progress_opt(),
    aue_norm: str = typer.Option(GA.aue_norm, help="batch (BatchNorm after each conv) or none (the paper's VGG)."),
) -> int:
    """Train GATH's AU estimator E (GATH equation 2): frames to AU coefficients; conv3_2 gives f_au.

    Input kinds: thead.frames + thead.au. Output kind: thead.checkpoint.
    """
    from thead.systems.gath.train import TrainConfig, train_aue as run

    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, width=width, checkpoint_every=checkpoint_every,
                      seed=seed, device=device, amp=amp, aue_norm=aue_norm, time_limit_s=time_limit * 60)
    p = run(target_frames, target_au, output, cfg, resume, progress, argv())
    _announce(p)
    return 0


@train_app.command("gath", epilog="Example: thead train gath --source work/frontal/manifest.json --target-frames "
                   "work/frontal/manifest.json --target-au work/au/manifest.json --aue runs/aue/last.pt -o runs/gath")
def train_gath(
    source: Path = typer.Option(..., help="thead.frames manifest of source portraits/frames (identity = item)."),
    target_frames: Path = typer.Option(..., help="thead.frames manifest of frontalized target video frames."),
    target_au: Path = typer.Option(..., help="thead.au manifest of the target videos."),
    aue: Path = typer.Option(..., help="AU estimator checkpoint (thead train aue)."),
    output: Path = typer.Option(Path("runs/gath"), "-o", "--output", help="Run folder."),
    variant: str = typer.Option(GA.variant, help="gath (G+D+C), gath-c (G+D) or gath-dc (G only)."),
    lambda_rec: float = typer.Option(GA.lambda_rec, callback=number(**NON_NEGATIVE),
                                     help="Weight of the reconstruction loss (GATH eq. 3)."),
    lambda_tv: float = typer.Option(GA.lambda_tv, callback=number(**NON_NEGATIVE),
                                    help="Weight of the total-variation loss."),
    lambda_adv: float = typer.Option(GA.lambda_adv, callback=number(**NON_NEGATIVE),
                                     help="Weight of the adversarial loss."),
    lambda_cls: float = typer.Option(GA.lambda_cls, callback=number(**NON_NEGATIVE),
                                     help="Weight of the identity classification loss."),
    lambda_au: float = typer.Option(GA.lambda_au, callback=number(**NON_NEGATIVE),
                                    help="Weight of the AU feature loss (GATH eq. 4)."),
    au_norm: str = typer.Option(GA.au_norm, help="Eq. 4's normalization: relative (to the target's feature energy), "
                                "sum (the paper's) or mean."),
    lambda_expr: float = typer.Option(GA.lambda_expr, callback=number(**NON_NEGATIVE),
                                      help="Weight of GANimation's expression loss ||E(G(x, e)) - e||^2 (not in "
                                      "GATH; 0 gives the paper's objective)."),
    edit_fraction: float = typer.Option(GA.edit_fraction, callback=number(low=0.0, high=1.0),
                                        help="Share of each batch driven by edited vectors (zeros, one AU) instead "
                                        "of a target frame's (not in GATH; 0 gives the paper's sampling)."),
    warp: str = typer.Option(GA.warp, help="Generator input: 3dmm (the source warped by the 3DMM's expression "
                             "flow first; thead) or none (the paper)."),
    upsample: str = typer.Option(GA.upsample, help="Generator upsampling: resize (no checkerboard) or transposed "
                                 "(the paper's)."),
    g_norm: str = typer.Option(GA.g_norm, "--g-norm", help="Generator normalization: batch (the paper's) or "
                               "instance (the same at synthesis as in training; experimental)."),
    g_output: str = typer.Option(GA.output, "--g-output", help="Generator output: attention (A * input + "
                                 "(1 - A) * colour, GANimation's), residual (A * input + (1 - A) * (input + "
                                 "correction); experimental) or direct (the paper's)."),
    lambda_att: float = typer.Option(GA.lambda_att, callback=number(**NON_NEGATIVE),
                                     help="Weight of the attention-map regularizer (mean + TV; with --g-output "
                                     "residual or attention)."),
    beta1: float = typer.Option(GA.beta1, callback=number(**dict(low=0.0, high=1.0, high_open=True)),
                                help="Adam beta1."),
    max_per_item: int = typer.Option(GA.max_per_item, min=0, help="Source frames kept per video item (0: all)."),
    steps: int = _C["steps"], batch_size: int = _C["batch_size"], lr: float = _C["lr"], width: int = _C["width"],
    checkpoint_every: int = _C["checkpoint_every"], seed: int = _C["seed"], device: str = _C["device"],
    amp: bool = _C["amp"], resume: bool = _C["resume"], time_limit: float = _C["time_limit"],
    progress: bool = progress_opt(),
) -> int:
    """Train GATH or a baseline with GATH's composite loss (equation 3; updates: equations 9, 10).

    Input kinds: thead.frames (source, target) + thead.au + an AUE checkpoint. Output kind: thead.checkpoint.
    """
    from thead.systems.gath.train import VARIANTS, TrainConfig, train_gath as run

    if variant not in VARIANTS:
        raise typer.BadParameter(f"must be one of {', '.join(VARIANTS)}", param_hint="--variant")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, width=width, checkpoint_every=checkpoint_every,
                      seed=seed, device=device, amp=amp, variant=variant, lambda_rec=lambda_rec, lambda_tv=lambda_tv,
                      lambda_adv=lambda_adv, lambda_cls=lambda_cls, beta1=beta1, max_per_item=max_per_item,
                      lambda_au=lambda_au, lambda_expr=lambda_expr, edit_fraction=edit_fraction, upsample=upsample,
                      output=g_output, g_norm=g_norm, lambda_att=lambda_att, au_norm=au_norm, warp=warp,
                      time_limit_s=time_limit * 60)
    p = run(source, target_frames, target_au, aue, output, cfg, resume, progress, argv())
    _announce(p)
    return 0




@train_app.command("flnet", epilog="Example: thead train flnet --manifest work/crops/manifest.json -o runs/flnet "
                   "--steps 20000 --device cuda   (or: torchrun --nproc-per-node 4 -m thead train flnet ...)")
def train_flnet(
    manifest: Path = typer.Option(..., help="thead.frames crop manifest (thead crop-faces); meta.identity groups "
                                  "clips into people."),
    output: Path = typer.Option(Path("runs/flnet"), "-o", "--output", help="Run folder."),
    variant: str = typer.Option(FL.variant, help="full (A+W), appearance-only (A) or warp-only (W)."),
    bank_size: int = typer.Option(FL.bank_size, min=1, help="N bank images (paper ablation: 1, 3, 5)."),
    bank_pool: int = typer.Option(FL.bank_pool, min=1,
                                  help="Evenly spaced picks by mouth openness, of which the first N form "
                                  "the bank (paper: 5; equal to --bank-size for N evenly spaced)."),
    vgg_weights: Optional[Path] = typer.Option(None, help="torchvision VGG16 state dict for the perceptual loss."),
    face_net: Optional[Path] = typer.Option(None, help="Without --vgg-weights: a 'train aue' checkpoint as the "
                                            "perceptual network (default: dlib's face-recognition ResNet)."),
    holdout: float = typer.Option(FL.holdout, callback=number(low=0.0, high=1.0, high_open=True),
                                  help="Tail fraction of every clip never trained on (for evaluate flnet; 0: train "
                                  "on every frame, e.g. when other people are held out)."),
    d_steps: int = typer.Option(FL.d_steps, min=0, help="Discriminator updates per generator update (paper: 5; "
                                "1: one update on the step's own fakes, ~3x faster on a CPU)."),
    ema: float = typer.Option(FL.ema, min=0.0, max=0.99999, help="Decay of the generator's weight average used for "
                              "synthesis (not in the paper; 0: off)."),
    k_floor: float = typer.Option(FL.k_floor, min=0.0, max=1.0, help="Lower bound of the reconstruction heatmap K "
                                  "(eq. 12-13; paper 0.3): the weight of hair and background against the face's 1."),
    d_width: int = typer.Option(FL.d_width, min=4, help="Channels of the discriminator's first conv."),
    history: int = typer.Option(FL.history, min=0, help="Generated images kept for the discriminator (Shrivastava)."),
    margin: float = typer.Option(FL.margin, callback=number(**NON_NEGATIVE),
                                 min=0.0, help="Warp margin M, px (0: 40 px at 224, scaled to the crop)."),
    lambda_sv: float = typer.Option(FL.lambda_sv, callback=number(**NON_NEGATIVE),
                                    help="Weight of the V sparsity loss (eq. 17)."),
    lambda_tv: float = typer.Option(FL.lambda_tv, callback=number(**NON_NEGATIVE), help="Weight of the TV losses."),
    lambda_rec: float = typer.Option(FL.lambda_rec, callback=number(**NON_NEGATIVE),
                                     help="Weight of the reconstruction loss."),
    lambda_p: float = typer.Option(FL.lambda_p, callback=number(**NON_NEGATIVE), help="Weight of the perceptual loss."),
    lambda_adv: float = typer.Option(FL.lambda_adv, callback=number(**NON_NEGATIVE),
                                     help="Weight of the adversarial loss."),
    lambda_entropy: float = typer.Option(FL.lambda_entropy, callback=number(**NON_NEGATIVE),
                                         help="Weight of the selection masks' entropy (not in the paper: pushes each "
                                         "pixel to copy one bank image)."),
    prior: str = typer.Option(FL.prior, help="Warp prior: tps (a thin-plate flow from the bank's to the target's "
                              "landmarks, corrected by the network; thead) or none (the paper's learned warps)."),
    field: str = typer.Option(FL.field, help="Landmark difference field: sparse (the paper's) or dense (offsets "
                              "spread over the face by normalized convolution)."),
    time_limit: float = _F["time_limit"],
    steps: int = _F["steps"], batch_size: int = _F["batch_size"], lr: float = _F["lr"], width: int = _F["width"],
    checkpoint_every: int = _F["checkpoint_every"], seed: int = _F["seed"], device: str = _F["device"],
    amp: bool = _F["amp"], resume: bool = _F["resume"], progress: bool = progress_opt(),
) -> int:
    """Train FLNet (a bank of N crops + target landmarks -> that person with that face shape; FLNet eq. 1-17).

    Input kind: thead.frames (crops). Output kind: thead.checkpoint (+ samples.png with the masks).
    """
    from thead.systems.flnet.train import FLNetConfig, check_config, train_flnet as run

    cfg = FLNetConfig(steps=steps, batch_size=batch_size, lr=lr, width=width, d_width=d_width, variant=variant,
                      bank_size=bank_size, bank_pool=bank_pool, margin=margin, lambda_sv=lambda_sv,
                      lambda_tv=lambda_tv, lambda_rec=lambda_rec, lambda_p=lambda_p, lambda_adv=lambda_adv,
                      lambda_entropy=lambda_entropy, field=field,
                      prior=prior, d_steps=d_steps, ema=ema, k_floor=k_floor, history=history, holdout=holdout,
                      time_limit_s=time_limit * 60, checkpoint_every=checkpoint_every, seed=seed, device=device,
                      amp=amp)
    check_config(cfg)
    p = run(manifest, output, cfg, vgg_weights, face_net, resume, progress, argv())
    _announce(p)
    return 0


@train_app.command("facial-gan", epilog="Example: thead train facial-gan --audio work/audio/manifest.json --au "
                   "work/au/manifest.json -o runs/facial-gan;  fine-tune: ... --finetune runs/facial-gan/last.pt "
                   "-o runs/facial-gan-alice")
def train_facial_gan(
    audio: Path = typer.Option(..., help="thead.audio manifest (audio-features run on the clips' landmarks or "
                               "3dmm manifest, so rows match the fitted frames)."),
    au: Path = typer.Option(..., help="thead.au manifest made from the clips' fit-3dmm manifest."),
    output: Path = typer.Option(Path("runs/facial-gan"), "-o", "--output", help="Run folder."),
    finetune: Optional[Path] = typer.Option(None, help="A general FACIAL-GAN checkpoint to fine-tune on these "
                                            "clips (FACIAL section 5.1)."),
    window: int = typer.Option(FG.window, min=16, help="T, frames per training window (paper: 128)."),
    hop: int = typer.Option(FG.hop, min=1, help="Frames between training windows (paper: 5)."),
    hidden: int = typer.Option(FG.hidden, min=4, help="G_tem GRU width."),
    w_gan: float = typer.Option(FG.w_gan, callback=number(**NON_NEGATIVE),
                                help="omega_6, weight of the GAN term (eq. 8)."),
    w_mouth: float = typer.Option(FG.w_mouth, callback=number(**NON_NEGATIVE),
                                  help="Weight of L_mouth, the loss on the 3DMM mouth shape (not in FACIAL; the "
                                  "bundled pretrained model used 10). 0: off."),
    audio_norm: str = typer.Option(FG.audio_norm,
                                   help="Per-clip CMVN of the features (cmvn; not in FACIAL) or none (the "
                                   "paper). A fine-tuned or resumed run keeps its checkpoint's."),
    clip: Optional[list[str]] = typer.Option(None, help="Train on these item ids only (repeatable)."),
    epochs: float = typer.Option(FG.epochs, min=0.0, help="Passes over the training windows, replacing --steps "
                                 "when above 0 (paper: 50 general, 10 fine-tuning)."),
    steps: int = _FG["steps"], batch_size: int = _FG["batch_size"],
    time_limit: float = _FG["time_limit"],
    lr: float = _FG["lr"], checkpoint_every: int = _FG["checkpoint_every"], seed: int = _FG["seed"],
    device: str = _FG["device"], amp: bool = _FG["amp"], resume: bool = _FG["resume"], progress: bool = progress_opt(),
) -> int:
    """Train FACIAL-GAN (FACIAL eq. 3-8): audio features -> expression, head pose and blink AU45 per frame.

    Input kinds: thead.audio + thead.au (from thead.3dmm). Output kind: thead.checkpoint.
    """
    from thead.systems.facial.train import FacialGANConfig, train_facial_gan as run

    cfg = FacialGANConfig(steps=steps, batch_size=batch_size, lr=lr, window=window, hop=hop, hidden=hidden,
                          w_gan=w_gan, w_mouth=w_mouth, audio_norm=audio_norm, time_limit_s=time_limit * 60,
                          epochs=epochs,
                          checkpoint_every=checkpoint_every, seed=seed, device=device, amp=amp)
    p = run(audio, au, output, cfg, finetune, resume, progress, argv(), clips=list(clip) if clip else None)
    _announce(p)
    return 0


@train_app.command("render2video", epilog="Example: thead train render2video --manifest work/render/manifest.json "
                   "-o runs/r2v [--vgg-weights vgg16.pth]")
def train_render2video(
    manifest: Path = typer.Option(..., help="thead.frames manifest of 'thead render-face' (renders + real crops)."),
    output: Path = typer.Option(Path("runs/render2video"), "-o", "--output", help="Run folder."),
    vgg_weights: Optional[Path] = typer.Option(None, help="torchvision VGG16 state dict for the perceptual loss."),
    face_net: Optional[Path] = typer.Option(None, help="Without --vgg-weights: a 'train aue' checkpoint as the "
                                            "perceptual network (default: dlib's face-recognition ResNet)."),
    n_w: int = typer.Option(RV.n_w, min=1, help="N_w: the generator reads 2 N_w consecutive renders."),
    clip: Optional[list[str]] = typer.Option(None, help="Train on these item ids only (repeatable; one person)."),
    d_width: int = typer.Option(RV.d_width, min=4, help="Channels of each discriminator's first conv."),
    arch: str = typer.Option(RV.arch, help="Generator: pix2pixhd (the paper's), unet-residual (a U-Net correcting the "
                             "render: learns in CPU minutes) or auto (pix2pixhd on cuda, unet-residual on cpu)."),
    w_face: float = typer.Option(RV.w_face, callback=number(**NON_NEGATIVE),
                                 help="Extra L1 weight inside the rendered face (not in the paper; 0: eq. 10)."),
    time_limit: float = _R["time_limit"],
    epochs: float = typer.Option(RV.epochs, min=0.0, help="Passes over the reference's frames, replacing --steps "
                                 "when above 0 (paper: 50)."),
    lr_decay: float = typer.Option(RV.lr_decay, min=0.0, max=1.0, help="Fraction of the run, at its end, over which "
                                   "the learning rate falls linearly to 0 (paper: the last 30 of 50 epochs, 0.6)."),
    lambda_id: float = typer.Option(RV.lambda_id, callback=number(**NON_NEGATIVE),
                                    help="Weight of the identity term (dlib face-descriptor distance; not in the "
                                    "paper; 0: eq. 10 exactly)."),
    steps: int = _R["steps"], batch_size: int = _R["batch_size"], lr: float = _R["lr"], width: int = _R["width"],
    checkpoint_every: int = _R["checkpoint_every"], seed: int = _R["seed"], device: str = _R["device"],
    amp: bool = _R["amp"], resume: bool = _R["resume"], progress: bool = progress_opt(),
) -> int:
    """Train FACIAL's rendering-to-video network (eq. 10-11): stacked renders + eye attention maps -> real frames.

    Input kind: thead.frames (render-face). Output kind: thead.checkpoint (+ samples.png).
    """
    from thead.systems.facial.train_render import Render2VideoConfig, train_render2video as run

    cfg = Render2VideoConfig(steps=steps, batch_size=batch_size, lr=lr, n_w=n_w, width=width, d_width=d_width,
                             arch=arch, w_face=w_face, lambda_id=lambda_id, time_limit_s=time_limit * 60,
                             epochs=epochs, lr_decay=lr_decay,
                             checkpoint_every=checkpoint_every, seed=seed, device=device, amp=amp)
    p = run(manifest, output, cfg, vgg_weights, face_net, resume, progress, argv(), clips=list(clip) if clip else None)
    _announce(p)
    return 0
