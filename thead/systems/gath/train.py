"""Training of the AU estimator (GATH eq. 2) and of GATH and its two baselines (eq. 3-10).

Variants (paper section 5): ``gath`` = G + D + C (full model); ``gath-c`` = G + D, no classifier;
``gath-dc`` = G alone (AU, reconstruction and TV losses). One step = one D/C update then one G update on a batch
of sources x_src (with labels), real images x_re (another source batch with labels) and targets (y_tgt, e_tgt).

Output folder: ``last.pt`` (every ``checkpoint_every`` steps and at the end), ``step-NNNNNN.pt`` snapshots,
``log.jsonl``, ``loss.png``, ``config.json``, ``command.txt`` and a ``thead.checkpoint`` manifest. ``resume=True``
continues from ``last.pt`` exactly (weights, optimizer moments, step, all RNG states).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from thead.errors import TheadError
from thead.train.loop import fit, prepare_run_dir, random_batch, seed_all, write_run_files
from thead.systems.gath.config import VARIANTS, TrainConfig, AUE_LR  # noqa: F401 (the settings live there)

WARPS = ("3dmm", "none")


def flow_basis(n_au: int):
    """(n_au, 2, 100, 100) float32 tensor: the 3DMM expression flow in GATH's 100 px frontal crops
    (``thead.face.frontalize.Frontalizer.expression_flow_basis``) for ``model.Generator``.

    Raises:
        TheadError: the coefficients are not the face model's expression weights (their count differs).
    """
    import torch

    from thead.face.facemodel import load_face_model
    from thead.face.frontalize import Frontalizer
    from thead.systems.gath.model import IMAGE_SIZE

    model = load_face_model()
    if model.k_exp != n_au:
        raise TheadError(f"--warp 3dmm needs the {model.k_exp} expression coefficients of the face model as AU "
                         f"vectors; the target set has {n_au} (use --warp none)")
    return torch.from_numpy(Frontalizer(model, IMAGE_SIZE).expression_flow_basis(model))


def train_aue(target_frames: Path, target_au: Path, out_dir: Path, cfg: TrainConfig, resume: bool = False,
              progress: bool = True, argv=None, on_step: Optional[Callable[[int], None]] = None) -> Path:
    """Train the AU estimator E on the target set (GATH eq. 2). Returns the last checkpoint's path.

    Departure: with ``cfg.augment`` each batch is shifted by up to 4 px and its brightness / contrast jittered by
    up to 15% (``thead.train.images.augment_photometric_shift``; the paper does not say), the usual guard of a
    classifier trained on a few dozen people against learning each person's AUs from their looks. Measured with
    ``bench/diagnose_gath.py`` after ~3-5 CPU minutes, it did not move the share of the mouth AUs' input gradient
    that falls on the mouth (6.3% with and without, for 5.4% of the pixels).

    Raises:
        TheadError / InputError: bad data, existing run without ``resume``, unknown device or ``aue_norm``.
    """
    import torch

    from thead.systems.gath.data import load_target_set
    from thead.train.images import augment_photometric_shift, to_model_range
    from thead.systems.gath.losses import aue_loss
    from thead.systems.gath.model import AUEstimator
    from thead.train import dist
    from thead.train.amp import autocast
    from thead.train.checkpoint import load_checkpoint, restore

    out_dir = Path(out_dir)
    last = prepare_run_dir(out_dir, resume)
    d = dist.setup(cfg.device)
    tgt = load_target_set(target_frames, target_au)
    n_au = tgt.au.shape[1]
    gen = seed_all(cfg.seed + d.rank)
    if cfg.aue_norm not in AUEstimator.NORMS:
        raise TheadError(f"--aue-norm must be one of {', '.join(AUEstimator.NORMS)}")
    E = AUEstimator(n_au, cfg.width, cfg.aue_norm).to(d.device)
    opt = torch.optim.Adam(E.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    Ew = dist.wrap(E, d)
    conf = dict(asdict(cfg), system="aue", n_au=n_au, target_frames=str(target_frames), target_au=str(target_au))
    start = restore(load_checkpoint(last), {"aue": Ew}, {"aue": opt}, gen) if last else 0
    if d.is_main:
        write_run_files(out_dir, conf, argv)

    def load():
        idx = random_batch(len(tgt.images), cfg.batch_size, gen)
        x = to_model_range(tgt.images[idx])
        if cfg.augment:
            x = augment_photometric_shift(x, gen)
        return x.to(d.device), tgt.au[idx].to(d.device)

    def step_fn(step, fetch):
        x, e = fetch(load, cfg.batch_size)
        with autocast(d.device, cfg.amp):
            loss = aue_loss(Ew(x), e)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"aue": float(loss.detach())}

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models={"aue": Ew}, optimizers={"aue": opt},
               config=conf, generator=gen, is_main=d.is_main, label="train aue", title="AU estimator (GATH eq. 2)",
               stage="train aue", argv=argv, progress=progress, on_step=on_step)


def edit_basis(n_au: int):
    """(N_AU, A) blendshape vectors of every named AU at full intensity (5), for the ICT model's coefficients
    (``au_spec.blendshapes_from_aus``); empty when the model's coefficients are not ICT blendshapes."""
    import numpy as np
    import torch

    from thead.face.au import AU_NAMES
    from thead.face.facemodel import load_face_model
    from thead.systems.gath.au_spec import blendshapes_from_aus

    names = load_face_model().exp_names
    if len(names) != n_au:
        return torch.zeros(0, n_au)
    rows = [blendshapes_from_aus({a: 5.0}, names) for a in AU_NAMES]
    rows = [r for r in rows if r.any()]
    return torch.from_numpy(np.stack(rows)).float()


def sample_edits(basis, n: int, gen):
    """n edited target vectors (n, A): a third all zeros (neutral), the rest one random AU of ``basis`` at a
    uniform random intensity in [0, 5], every other coefficient zero -- the vectors ``--au zeros`` and
    ``--au AUxx_r=V`` give."""
    import torch

    pick = torch.randint(len(basis), (n,), generator=gen)
    scale = torch.rand(n, generator=gen) * (torch.rand(n, generator=gen) >= 1 / 3).float()
    return basis.cpu()[pick] * scale[:, None]


def load_aue(path: Path, device="cpu"):
    """A frozen AU estimator from a ``train aue`` checkpoint (eval mode, no gradients)."""
    from thead.systems.gath.model import AUEstimator
    from thead.train.checkpoint import load_checkpoint

    blob = load_checkpoint(path)
    if blob["config"].get("system") != "aue":
        raise TheadError(f"{path}: not an AU-estimator checkpoint (system {blob['config'].get('system')!r})")
    # checkpoints from before the norm option were the paper's plain VGG
    E = AUEstimator(int(blob["config"]["n_au"]), int(blob["config"]["width"]), blob["config"].get("aue_norm", "none"))
    E.load_state_dict(blob["models"]["aue"])
    E.eval().requires_grad_(False)
    return E.to(device)


def train_gath(source: Path, target_frames: Path, target_au: Path, aue: Path, out_dir: Path, cfg: TrainConfig,
               resume: bool = False, progress: bool = True, argv=None,
               on_step: Optional[Callable[[int], None]] = None) -> Path:
    """Train GATH (or a baseline, ``cfg.variant``) with the composite loss of GATH eq. 3 (updates: eq. 9, 10).

    Departures from the paper, each for a measured reason (``bench/diagnose_gath.py``, the note of issue 13):

    * **Conditional expression loss** (GANimation, Pumarola et al. 2018, eq. 4 there): ``lambda_expr *
      ||E(G(x_src, e_tgt)) - e_tgt||^2`` with the frozen AU estimator E. GATH's eq. 4 matches conv3_2 features of
      *another person's* frame y_tgt; those features carry that person's identity, pose and light as much as the
      expression, and eq. 5 pulls the other way. E's output names the expression alone, and it is the only loss
      that can drive the edited targets below. ``lambda_expr=0`` gives the paper's objective.
    * **Edited targets**: a share ``edit_fraction`` of every batch is driven by the vectors a user asks for and no
      target frame shows -- all zeros (``--au zeros``) or one named AU at a random intensity, others zero
      (``--au AU12_r=3``) -- with eq. 4 off for those samples (there is no y_tgt) and the expression loss on.
      Without them ``--au zeros`` is a vector the generator never saw.
    * **Eq. 4 relative to the target's feature energy**: ||f(y_tgt) - f(G)||^2 / ||f(y_tgt)||^2. The paper's sum,
      or thead's former mean, ties eq. 4's weight against eq. 5 to the scale of E's conv3_2 activations: with the
      plain VGG they were small (eq. 4's gradient on the image 0.5x eq. 5's, 1.4x with sums), with a BatchNorm E
      eq. 4 was ~60x eq. 5 and G painted colour noise that matches features instead of a face. Relative, the
      balance no longer depends on how E was trained. ``au_norm="sum"`` is the paper's form, ``"mean"`` thead's
      former one.
    * **3DMM expression flow** (``warp="3dmm"``, see ``model.Generator``): G warps x_src by the face model's
      expression change before it draws. The source's own coefficients e_src are the frozen AU estimator's
      E(x_src) (the source set has no labels of its own; at synthesis thead fits the 3DMM to the crop instead).
      Eq. 5 then compares G's output with the *warped* source x_w, not x_src: with the expression moved by the
      model, eq. 5 keeps the person and no longer pulls the expression back to the source's (the copying the note
      of issue 13 measured).
    * **Resize-convolution upsampling** (``upsample``) and an **attention output** (``output``), see
      ``model.Generator``. The attention map A gets GANimation's regularizer, ``lambda_att * (mean(A) + TV(A))``,
      which keeps A off 1 (pure copying) and smooth. Measured: at 0.1 the mean of A fell to 0.25 within 300 steps
      (the face re-drawn, blurred); at 0.01 it stayed near 0.75 (sharp, but the expression still copied).

    Args:
        source: ``thead.frames`` manifest of source portraits/frames (identity = item).
        target_frames, target_au: the target set (frames and their AU coefficient vectors).
        aue: checkpoint of ``train aue`` (f_au = its conv3_2 features).

    Returns:
        the last checkpoint's path.
    """
    import torch

    from thead.systems.gath import losses as L
    from thead.systems.gath.data import load_source_set, load_target_set
    from thead.train.images import to_model_range
    from thead.systems.gath.model import NORMS as G_NORMS, DiscriminatorClassifier, Generator
    from thead.train import dist
    from thead.train.amp import autocast
    from thead.train.checkpoint import load_checkpoint, restore

    if cfg.variant not in VARIANTS:
        raise TheadError(f"--variant must be one of {', '.join(VARIANTS)}")
    out_dir = Path(out_dir)
    last = prepare_run_dir(out_dir, resume)
    d = dist.setup(cfg.device)
    src = load_source_set(source, max_per_item=cfg.max_per_item)
    tgt = load_target_set(target_frames, target_au)
    E = load_aue(aue, d.device)
    n_au = tgt.au.shape[1]
    if E.n_au != n_au:
        raise TheadError(f"AU estimator predicts {E.n_au} AUs but the target set has {n_au}")
    gen = seed_all(cfg.seed + d.rank)
    use_d = cfg.variant in ("gath", "gath-c")
    use_c = cfg.variant == "gath"
    if cfg.upsample not in Generator.UPSAMPLE:
        raise TheadError(f"--upsample must be one of {', '.join(Generator.UPSAMPLE)}")
    if not 0.0 <= cfg.edit_fraction <= 1.0:
        raise TheadError(f"--edit-fraction must be in [0, 1], got {cfg.edit_fraction}")
    if cfg.au_norm not in L.AU_NORMS:
        raise TheadError(f"--au-norm must be one of {', '.join(L.AU_NORMS)}")
    if cfg.output not in Generator.OUTPUT:
        raise TheadError(f"--output must be one of {', '.join(Generator.OUTPUT)}")
    if cfg.g_norm not in G_NORMS:
        raise TheadError(f"--g-norm must be one of {', '.join(G_NORMS)}")
    if cfg.warp not in WARPS:
        raise TheadError(f"--warp must be one of {', '.join(WARPS)}")
    basis = flow_basis(n_au) if cfg.warp == "3dmm" else None
    G = Generator(n_au, cfg.width, cfg.upsample, cfg.output, basis, cfg.g_norm).to(d.device)
    edits = edit_basis(n_au).to(d.device)
    models = {"G": dist.wrap(G, d)}
    opts = {"G": torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))}
    if use_d:
        D = DiscriminatorClassifier(len(src.classes) if use_c else 0, cfg.width).to(d.device)
        models["D"] = dist.wrap(D, d)
        opts["D"] = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    conf = dict(asdict(cfg), system="gath", n_au=n_au, classes=src.classes, source=str(source),
                target_frames=str(target_frames), target_au=str(target_au), aue=str(aue))
    start = restore(load_checkpoint(last), models, opts, gen) if last else 0
    if d.is_main:
        write_run_files(out_dir, conf, argv)
    Gw = models["G"]
    Dw = models.get("D")
    bs = cfg.batch_size

    def ac():
        return autocast(d.device, cfg.amp)

    def load():
        i_src, i_re, i_tgt = (random_batch(len(src.images), bs, gen), random_batch(len(src.images), bs, gen),
                              random_batch(len(tgt.images), bs, gen))
        return (to_model_range(src.images[i_src]).to(d.device), src.labels[i_src].to(d.device),
                to_model_range(src.images[i_re]).to(d.device), src.labels[i_re].to(d.device),
                to_model_range(tgt.images[i_tgt]).to(d.device), tgt.au[i_tgt].to(d.device))

    def step_fn(step, fetch):
        x_src, c_src, x_re, c_re, y_tgt, e_tgt = fetch(load, bs)
        real_tgt = torch.ones(bs, device=d.device)  # 1: e_tgt is y_tgt's own vector (eq. 4 applies)
        if cfg.edit_fraction > 0 and len(edits):
            edited = torch.rand(bs, generator=gen) < cfg.edit_fraction
            if edited.any():
                e_tgt[edited.to(d.device)] = sample_edits(edits, int(edited.sum()), gen).to(d.device)
                real_tgt = (~edited).float().to(d.device)
        logs = {}
        with ac():
            if G.warps:
                with torch.no_grad():
                    e_src = E(x_src)
                x_fake = Gw(x_src, e_tgt, e_src)
                x_rec = G.last_warped.detach()  # eq. 5's target: the source moved to e_tgt by the 3DMM
            else:
                x_fake = Gw(x_src, e_tgt)
                x_rec = x_src
        if use_d:  # eq. 9: one forward over real and fake together (DDP wants one forward per backward)
            with ac():
                d_out, c_out = Dw(torch.cat([x_re, x_fake.detach()]))
                d_real, d_fake = d_out[:bs], d_out[bs:]
                loss_d = cfg.lambda_adv * L.d_adversarial_loss(d_real, d_fake)
                if use_c:
                    loss_cls_real = L.classification_loss(c_out[:bs], c_re)
                    loss_d = loss_d + cfg.lambda_cls * loss_cls_real
                    logs["cls_real"] = float(loss_cls_real.detach())
            opts["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            opts["D"].step()
            logs["d"] = float(loss_d.detach())
        with ac():
            # eq. 10
            with torch.no_grad():
                f_tgt = E.features(y_tgt)
            f_fake = E.features(x_fake)
            per = L.au_loss_per_sample(f_tgt, f_fake, cfg.au_norm)  # eq. 4 (see the docstring)
            l_au = (per * real_tgt).sum() / real_tgt.sum().clamp(min=1)
            l_rec = L.reconstruction_loss(x_rec, x_fake)
            l_tv = L.tv_loss(x_fake)
            loss_g = cfg.lambda_au * l_au + cfg.lambda_rec * l_rec + cfg.lambda_tv * l_tv
            logs.update(au=float(l_au.detach()), rec=float(l_rec.detach()), tv=float(l_tv.detach()))
            if G.att is not None and cfg.lambda_att > 0:
                att = G.last_attention
                l_att = att.mean() + L.tv_loss(att)
                loss_g = loss_g + cfg.lambda_att * l_att
                logs["att"] = float(att.detach().mean())
            if cfg.lambda_expr > 0:
                l_expr = L.expression_loss(E.head_from_features(f_fake), e_tgt)
                loss_g = loss_g + cfg.lambda_expr * l_expr
                logs["expr"] = float(l_expr.detach())
            if use_d:
                d_g, c_g = Dw(x_fake)
                l_adv = L.g_adversarial_loss(d_g)
                loss_g = loss_g + cfg.lambda_adv * l_adv
                logs["adv_g"] = float(l_adv.detach())
                if use_c:
                    l_cls = L.classification_loss(c_g, c_src)
                    loss_g = loss_g + cfg.lambda_cls * l_cls
                    logs["cls_fake"] = float(l_cls.detach())
        opts["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["G"].step()
        logs["g"] = float(loss_g.detach())
        return logs

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models=models, optimizers=opts, config=conf,
               generator=gen, is_main=d.is_main, label=f"train {cfg.variant}", title=f"{cfg.variant} (GATH eq. 3)",
               stage="train gath", argv=argv, progress=progress, on_step=on_step)
