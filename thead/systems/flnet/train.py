"""Training of FLNet and its ablations (paper "Objective Functions" and "Implementation").

One step = ``d_steps`` (paper: 5) discriminator updates, each on a fresh batch, its fakes passed through a history of
generated images (Shrivastava et al. 2017), then one generator update with the full loss of eq. 17. With
``d_steps=1`` (thead's CPU-budget setting, the 1:1 schedule of pix2pix / pix2pixHD; a departure from the paper) the
discriminator is updated after the generator on that step's own outputs: the paper's schedule spends ~70% of a CPU
step on the 5 extra generator passes and D updates (measured at 128 px, width 16, batch 4: 1.44 s vs 0.49 s a
step), so at 30 CPU minutes the generator gets ~3x the updates. Adam (0.5, 0.999),
lr 1e-4 for both networks; loss weights (1.0, 1e-5, 250, 1.0, 1.0).

Run folder: ``last.pt`` (every ``checkpoint_every`` steps and at the end; weights, optimizers, step, config, every RNG
state and the image history, so ``resume`` continues exactly), ``log.jsonl``, ``loss.png``, ``samples.png`` (a fixed
batch: bank, masks, both streams, output), ``config.json``, ``command.txt`` and a ``thead.checkpoint`` manifest.
Without VGG16 weights the perceptual loss runs on dlib's pretrained face-recognition ResNet (``perceptual.py``).
Departure from the paper (issue 12): ``lambda_id`` (default 1) times the distance of dlib face descriptors (128-D)
between output and target (``perceptual.identity_loss``), so that minutes of CPU training keep the person; the
descriptor comes from the same ResNet pass as the perceptual maps when no VGG16 is given. ``lambda_id = 0`` gives
eq. 17 exactly. ``fixed_bank`` (off by default; ``stages/flnet.mk`` and ``bench/quality_flnet.py`` turn it on when
fine-tuning on the people to synthesize) trains every sample of a person on the bank synthesis will use
(``data.BankSampler``); on a held-back clip tail it cut L1 by 0.7 at equal minutes (issue 12 note).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError
from thead.systems.flnet.model import VARIANTS
from thead.train.loop import fit, prepare_run_dir, seed_all, write_run_files
from thead.systems.flnet.config import REC_A_REGIONS, FLNetConfig  # noqa: F401 (the settings live there)


def check_config(cfg: FLNetConfig) -> None:
    """Raises InputError for values the networks cannot take."""
    if cfg.variant not in VARIANTS:
        raise InputError(f"--variant must be one of {', '.join(VARIANTS)}, got {cfg.variant!r}")
    if cfg.bank_size < 1 or cfg.bank_pool < cfg.bank_size:
        raise InputError(f"--bank-size must be >= 1 and <= --bank-pool (got {cfg.bank_size}, {cfg.bank_pool})")
    if not 0.0 <= cfg.holdout < 1.0:
        raise InputError(f"--holdout must be in [0, 1), got {cfg.holdout}")
    if cfg.d_steps < 0:
        raise InputError("--d-steps must be >= 0")
    from thead.systems.flnet.fields import FIELDS, PRIORS

    if cfg.field not in FIELDS:
        raise InputError(f"--field must be one of {', '.join(FIELDS)}, got {cfg.field!r}")
    if cfg.prior not in PRIORS:
        raise InputError(f"--prior must be one of {', '.join(PRIORS)}, got {cfg.prior!r}")
    if cfg.warped_input and cfg.prior == "none":
        raise InputError("--warped-input needs a warp prior (--prior tps or tps-head)")
    if cfg.rec_a_region not in REC_A_REGIONS:
        raise InputError(f"--rec-a-region must be one of {', '.join(REC_A_REGIONS)}, got {cfg.rec_a_region!r}")
    if cfg.warped_input and cfg.variant == "appearance-only":
        raise InputError("--warped-input is part of the fetching stream; the appearance-only ablation has none")


ARCH = ("width", "d_width")  # taken from a finetune checkpoint
MUST_MATCH = ("variant", "bank_size", "prior", "field")  # refused when they differ


def load_finetune(path: Path, cfg: FLNetConfig) -> dict:
    """A general FLNet checkpoint to start from; sets ``cfg.width`` / ``cfg.d_width`` to its networks' (as FACIAL-GAN's
    ``--finetune`` takes its sizes).

    A checkpoint without ``warped_input`` starts a run with it: its generators' first conv is widened with zero
    weights (``model.expand_for_warped_input``), so the run starts from exactly the checkpoint's outputs.

    Raises:
        InputError: unreadable, not an FLNet checkpoint, or another variant, bank size, warp prior or field, or one
        with ``warped_input`` for a run without.
    """
    from thead.train.checkpoint import load_checkpoint

    blob = load_checkpoint(path)
    bc = blob.get("config", {})
    if bc.get("system") != "flnet":
        raise InputError(f"{path}: not an FLNet checkpoint (system {bc.get('system')!r})")
    bad = [f"{k} {bc.get(k)!r} (this run: {getattr(cfg, k)!r})" for k in MUST_MATCH if bc.get(k) != getattr(cfg, k)]
    if bad:
        raise InputError(f"{path}: trained with another " + ", ".join(bad))
    for k in ARCH:
        setattr(cfg, k, int(bc[k]))
    had = bool(bc.get("warped_input", False))
    if had and not cfg.warped_input:
        raise InputError(f"{path}: trained with --warped-input; add it to this run")
    if cfg.warped_input and not had:
        from thead.systems.flnet.model import expand_for_warped_input

        blob["models"] = {k: expand_for_warped_input(v, cfg.bank_size) if k in ("G", "G_ema") else v
                          for k, v in blob["models"].items()}
    return blob


def ema_update(decay: float):
    """``multi_avg_fn`` for ``torch.optim.swa_utils.AveragedModel`` (one fused update of every tensor, as torch's
    ``get_ema_multi_avg_fn``): an exponential moving average of the generator's
    weights with the warm-up of TensorFlow's ``ExponentialMovingAverage(num_updates=...)``, decay
    min(``decay``, (1 + n) / (10 + n)) at the n-th update, so short runs are not dominated by the initial weights.

    Not in FLNet (a departure): synthesis uses the average (the "G_ema" of progressive GANs and StyleGAN, Karras et
    al. 2018), which smooths the step-to-step jitter of the adversarial updates that a CPU budget's few thousand
    steps leave in the output (issue 12: held-back L1 moved 12.8-13.5 between snapshots)."""
    import torch

    def avg(averaged: list, current: list, n) -> None:
        k = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        torch._foreach_lerp_(averaged, current, 1.0 - k)

    return avg


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def generator_inputs(G, field: str, batch: dict, size: int, margin: float) -> tuple:
    """(bank, Delta F_s, prior flow or None): what ``FLNetGenerator.forward`` takes for a sampled batch."""
    from thead.systems.flnet.fields import difference_field

    return (batch["bank"], difference_field(field, batch["bank_lmk"], batch["target_lmk"], size, margin),
            G.prior_flow(batch["bank_lmk"], batch["target_lmk"], size))


def _perceptual(cfg: FLNetConfig, sampler, out_dir: Path, vgg_weights, face_net, d, say) -> tuple[object, str]:
    from thead.systems.flnet.perceptual import choose_perceptual

    return choose_perceptual(vgg_weights, face_net, say, "perceptual loss (FLNet eq. 15)")


def sample_panel(G, batch: dict, margin: float, size: int, path: Path, field: str = "sparse") -> Path:
    """``samples.png``: the mask panel (``viz.mask_panel``) of each sample of a fixed batch, stacked."""
    import numpy as np
    import torch

    from thead.media import write_image
    from thead.train.images import to_uint8
    from thead.systems.flnet.viz import mask_panel

    was = G.training
    G.eval()
    with torch.no_grad():
        out = G(*generator_inputs(G, field, batch, size, margin))
    G.train(was)
    rows = []
    for b in range(len(batch["bank"])):
        parts = {k: to_uint8(out[k][b]) for k in ("output", "warped", "appearance") if k in out}
        if "masks" in out:
            parts["masks"] = out["masks"][b].cpu().numpy()
        if "merge" in out:
            parts["merge"] = out["merge"][b, 0].cpu().numpy()
        parts["target_lmk"] = batch["target_lmk"][b].cpu().numpy()
        rows.append(mask_panel(to_uint8(batch["bank"][b]), parts, to_uint8(batch["target"][b]), "ground truth"))
    return write_image(path, np.concatenate(rows, 0))


def train_flnet(manifest: Path, out_dir: Path, cfg: FLNetConfig, vgg_weights: Optional[Path] = None,
                face_net: Optional[Path] = None, finetune: Optional[Path] = None, resume: bool = False,
                progress: bool = True, argv=None,
                on_step: Optional[Callable[[int], None]] = None, say: Callable[[str], None] = _stderr) -> Path:
    """Train FLNet (or an ablation, ``cfg.variant`` / ``cfg.bank_size``) on a crop manifest (``thead crop-faces``).

    Args:
        manifest: ``thead.frames`` crop manifest; items sharing ``meta.identity`` are one person.
        vgg_weights: torchvision VGG16 state dict for the perceptual loss (eq. 15); without it ``face_net`` (a
            ``train aue`` checkpoint) or, failing that, dlib's face-recognition ResNet.
        finetune: a general FLNet checkpoint (e.g. ``examples/weights/flnet_pretrained.pt``, trained on many
            people) whose G, D and weight average this run starts from, with fresh optimizers at step 0. Not in the
            paper, which trains one model on all its people: it lets a short run on one new person start from
            warps and selection masks that already work (``load_finetune``). Ignored when resuming.

    Returns:
        the last checkpoint's path.

    Raises:
        InputError: bad config or data, or a ``finetune`` checkpoint of another system or architecture;
        TheadError: an existing run without ``resume``.
    """
    import torch

    from thead.systems.flnet import losses as L
    from thead.systems.flnet.bank import load_crop_clips
    from thead.systems.flnet.data import BankSampler
    from thead.systems.flnet.fields import default_margin, heatmap_weight
    from thead.systems.flnet.model import FLNetGenerator, ImageHistory, PatchDiscriminator
    from thead.train import dist
    from thead.train.amp import autocast
    from thead.train.checkpoint import load_checkpoint, restore

    check_config(cfg)
    out_dir = Path(out_dir)
    last = prepare_run_dir(out_dir, resume)
    base = load_finetune(finetune, cfg) if finetune is not None and last is None else None
    d = dist.setup(cfg.device)
    clips = load_crop_clips(manifest)
    size = clips[0].size
    if size % 16:
        raise InputError(f"crop size {size} is not a multiple of 16")
    if base is not None and int(base["config"].get("size", size)) != size:
        raise InputError(f"{finetune}: trained on {base['config']['size']} px crops, these are {size} px")
    margin = cfg.margin or default_margin(size)
    sampler = BankSampler(clips, cfg.bank_size, cfg.bank_pool, cfg.holdout, cfg.gap, fixed_bank=cfg.fixed_bank,
                          zoom=cfg.zoom)
    gen = seed_all(cfg.seed + d.rank)
    perc, perc_name = _perceptual(cfg, sampler, out_dir, vgg_weights, face_net, d, say)
    perc = perc.to(d.device)
    from thead.systems.flnet.perceptual import identity_network, perceptual_and_identity

    ident = identity_network(perc, cfg.lambda_id, d.device)
    G = FLNetGenerator(cfg.bank_size, cfg.width, cfg.variant, margin, cfg.prior, cfg.warped_input).to(d.device)
    D = PatchDiscriminator(cfg.d_width).to(d.device)
    models = {"G": dist.wrap(G, d), "D": dist.wrap(D, d)}
    ema = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel

        ema = AveragedModel(G, multi_avg_fn=ema_update(cfg.ema))
        models["G_ema"] = ema.module
    if base is not None:
        G.load_state_dict(base["models"]["G"])
        D.load_state_dict(base["models"]["D"])
        if ema is not None:
            ema.module.load_state_dict(base["models"].get("G_ema", base["models"]["G"]))
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2)) for k, m in
            (("G", G), ("D", D))}
    history = ImageHistory(cfg.history)
    conf = dict(asdict(cfg), system="flnet", size=size, margin_px=margin, perceptual=perc_name,
                crop_center=clips[0].center, crop_scale=clips[0].scale,
                manifest=str(manifest), identities=sampler.names, n_train_frames=sampler.n_frames,
                finetuned_from=str(finetune) if base is not None else None)
    start = 0
    if last:
        blob = load_checkpoint(last)
        if ema is not None and "G_ema" not in blob["models"]:  # a run started without the average: begin it here
            blob["models"]["G_ema"] = blob["models"]["G"]
        start = restore(blob, models, opts, gen)
        if ema is not None:
            ema.n_averaged.fill_(int(blob["extra"].get("ema_updates", 0)))
        history.load(blob["extra"].get("history", torch.zeros(0)), d.device)
    if d.is_main:
        write_run_files(out_dir, conf, argv)
    fixed = sampler.sample(min(4, cfg.batch_size), torch.Generator().manual_seed(12345), d.device)
    w = L.LossWeights(sparsity=cfg.lambda_sv, tv=cfg.lambda_tv, rec=cfg.lambda_rec, perceptual=cfg.lambda_p,
                      adv=cfg.lambda_adv, mask_entropy=cfg.lambda_entropy, rec_appearance=cfg.lambda_rec_a)
    Gw, Dw = models["G"], models["D"]

    def inputs(batch):
        return generator_inputs(G, cfg.field, batch, size, margin)

    def d_update(real, fake) -> float:
        """One discriminator step (eq. 16) on real images and fakes passed through the image history."""
        fake = history.query(fake.float(), gen)
        with autocast(d.device, cfg.amp):
            scores = Dw(torch.cat([real, fake]))
            loss_d = cfg.lambda_adv * L.d_hinge_loss(scores[:len(fake)], scores[len(fake):])
        opts["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        opts["D"].step()
        return float(loss_d.detach())

    def step_fn(step, fetch):
        logs: dict[str, float] = {}
        for _ in range(cfg.d_steps if cfg.d_steps > 1 else 0):  # paper: "for every 5 iterations of
            # discriminator update, we train once G", each D update on a fresh batch and a fresh G forward
            batch = fetch(lambda: sampler.sample(cfg.batch_size, gen, d.device), cfg.batch_size)
            with torch.no_grad(), autocast(d.device, cfg.amp):
                fake = Gw(*inputs(batch))["output"]
            logs["d"] = logs.get("d", 0.0) + d_update(batch["target"], fake) / cfg.d_steps
        batch = fetch(lambda: sampler.sample(cfg.batch_size, gen, d.device), cfg.batch_size)
        with autocast(d.device, cfg.amp):
            out = Gw(*inputs(batch))
            k_raw = heatmap_weight(batch["target_lmk"], size, floor=0.0)  # one distance transform for both:
            k = k_raw.clamp(min=cfg.k_floor)  # K = max(gamma ** B, floor) (eq. 12-13)
            k_a = L.appearance_weight(cfg.rec_a_region, k, k_raw)
            f_o, f_t, id_loss = perceptual_and_identity(perc, ident, out["output"], batch["target"])
            d_fake = Dw(out["output"]) if cfg.d_steps > 0 and cfg.lambda_adv > 0 else None
            loss_g, g_logs = L.generator_losses(out, batch["target"], k, w, f_o, f_t, d_fake, k_a)
            if id_loss is not None:
                loss_g = loss_g + cfg.lambda_id * id_loss
                g_logs["identity"] = float(id_loss.detach())
        opts["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["G"].step()
        if ema is not None:
            ema.update_parameters(G)
        if cfg.d_steps == 1:  # 1:1 (pix2pix / pix2pixHD): D learns from this step's own fakes, no extra G pass
            logs["d"] = d_update(batch["target"], out["output"].detach())
        logs.update(g_logs)
        return logs

    def extra():
        return {"history": history.state(), "ema_updates": int(ema.n_averaged) if ema is not None else 0}

    def samples():
        sample_panel(ema.module if ema is not None else G, fixed, margin, size, out_dir / "samples.png", cfg.field)

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models=models, optimizers=opts, config=conf,
               generator=gen, is_main=d.is_main, label=f"train flnet {cfg.variant} {cfg.bank_size}B",
               title=f"FLNet {cfg.variant}, {cfg.bank_size}B (eq. 17)", stage="train flnet", argv=argv,
               progress=progress, on_step=on_step, extra=extra, on_checkpoint=samples, say=say)
