"""Training of FACIAL-GAN (FACIAL section 3.2, eq. 3-8; section 5.1): general training on many clips, then
``finetune`` on one person's reference video ("we fine-tune the FACIAL-GAN loss to learn the personalized talking
style"). One step = one D^f update and one generator update on a batch of T-frame windows. Adam, lr 1e-4.

Run folder as every thead trainer (``thead.train.loop``): ``last.pt`` (weights, optimizers, step, config, RNG states;
``resume`` continues exactly), ``log.jsonl``, ``loss.png``, ``config.json``, ``command.txt``, a ``thead.checkpoint``
manifest, and ``reference.npz`` per clip trained on (parameters and their normalisation, for synthesis).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError
from thead.train.amp import autocast
from thead.train.loop import fit, prepare_run_dir, seed_all, steps_for_epochs, write_run_files
from thead.systems.facial.config import FacialGANConfig  # noqa: F401 (the settings live there)


def train_facial_gan(audio_manifest: Path, au_manifest: Path, out_dir: Path, cfg: FacialGANConfig,
                     finetune: Optional[Path] = None, resume: bool = False, progress: bool = True, argv=None,
                     on_step: Optional[Callable[[int], None]] = None, clips: Optional[list[str]] = None) -> Path:
    """Train (or, with ``finetune`` = a general checkpoint, fine-tune) FACIAL-GAN.

    Args:
        audio_manifest: ``thead.audio`` of the clips (made from their landmarks/3dmm manifest: same frame counts).
        au_manifest: ``thead.au`` made from the clips' ``fit-3dmm`` manifest (the reference parameters).
        clips: train on these item ids only (e.g. the reference video when fine-tuning).

    Returns:
        the last checkpoint's path.

    Raises:
        InputError: bad data or a fine-tuning checkpoint of other sizes; TheadError: a run exists, no ``resume``.
    """
    import torch

    from thead.manifest import atomic_save_npz
    from thead.manifest.paths import output_path
    from thead.runner import safe_id
    from thead.systems.facial import losses as L
    from thead.systems.facial.data import AUDIO_NORMS, WindowSampler, load_clips
    from thead.systems.facial.model import FacialGenerator, ParamDiscriminator
    from thead.train import dist
    from thead.train.checkpoint import load_checkpoint, restore

    if cfg.window < 16:
        raise InputError(f"--window must be at least 16 frames, got {cfg.window}")
    out_dir = Path(out_dir)
    last = prepare_run_dir(out_dir, resume)
    d = dist.setup(cfg.device)
    only = clips
    resumed = load_checkpoint(last) if last else None
    base = load_checkpoint(finetune) if finetune is not None and last is None else None
    if base is not None or resumed is not None:  # the features as the network was trained on them
        cfg.audio_norm = str((base or resumed)["config"].get("audio_norm", "none"))
    if cfg.audio_norm not in AUDIO_NORMS:
        raise InputError(f"--audio-norm must be one of {', '.join(AUDIO_NORMS)}, got {cfg.audio_norm!r}")
    clips = load_clips(audio_manifest, au_manifest, only, cfg.audio_norm)
    audio_dim, param_dim = clips[0].audio.shape[1], clips[0].params.shape[1]
    sampler = WindowSampler(clips, cfg.window, cfg.hop)
    if cfg.epochs > 0:  # the paper's unit (50 epochs general, 10 fine-tuning)
        cfg.steps = steps_for_epochs(cfg.epochs, len(sampler), cfg.batch_size, d.world_size)
    gen = seed_all(cfg.seed + d.rank)
    G = FacialGenerator(audio_dim, param_dim, cfg.hidden, cfg.local_dim, cfg.width).to(d.device)
    D = ParamDiscriminator(param_dim).to(d.device)
    if base is not None:
        bc = base["config"]
        if bc.get("system") != "facial-gan":
            raise InputError(f"{finetune}: not a FACIAL-GAN checkpoint (system {bc.get('system')!r})")
        if (bc["audio_dim"], bc["param_dim"]) != (audio_dim, param_dim):
            raise InputError(f"{finetune}: trained on {bc['audio_dim']}-D audio / {bc['param_dim']}-D parameters, "
                             f"these clips have {audio_dim} / {param_dim}")
        for k in ("hidden", "local_dim", "width"):
            setattr(cfg, k, int(bc[k]))
        G = FacialGenerator(audio_dim, param_dim, cfg.hidden, cfg.local_dim, cfg.width).to(d.device)
        G.load_state_dict(base["models"]["G"])
        D.load_state_dict(base["models"]["D"])
    models = {"G": dist.wrap(G, d), "D": dist.wrap(D, d)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.9, 0.999)) for k, m in (("G", G), ("D", D))}
    kinds = sorted({c.feature_kind for c in clips if c.feature_kind})
    conf = dict(asdict(cfg), system="facial-gan", audio_dim=audio_dim, param_dim=param_dim,
                feature_kind=kinds[0] if kinds else None,
                param_names=clips[0].ref.names, clips=[c.id for c in clips], audio_manifest=str(audio_manifest),
                au_manifest=str(au_manifest), finetuned_from=str(finetune) if finetune else None,
                n_windows=len(sampler))
    start = restore(resumed, models, opts, gen) if resumed else 0
    if d.is_main:
        write_run_files(out_dir, conf, argv)
        for c in clips:
            atomic_save_npz(output_path(out_dir, f"reference.{safe_id(c.id)}.npz"), **c.ref.arrays())
    w = L.FacialWeights(cfg.w_exp, cfg.w_pose, cfg.w_eye, cfg.w_state, cfg.w_motion, cfg.w_gan, cfg.w_mouth)
    mouth = None
    if cfg.w_mouth > 0:
        from thead.face.facemodel import load_face_model
        from thead.systems.facial.params import EXP_START

        mouth = torch.from_numpy(L.mouth_basis(load_face_model(), param_dim - EXP_START)).to(d.device)
    Gw, Dw = models["G"], models["D"]

    def step_fn(step, fetch):
        b = fetch(lambda: sampler.sample(cfg.batch_size, gen, d.device), cfg.batch_size)
        with autocast(d.device, cfg.amp):
            fake = Gw(b["audio"], b["windows"], b["state"])
        logs = {}
        if cfg.w_gan > 0:
            with autocast(d.device, cfg.amp):
                scores = Dw(torch.cat([b["params"], fake.detach()]))
                loss_d = L.d_loss(scores[:len(fake)], scores[len(fake):])
            opts["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            opts["D"].step()
            logs["d"] = float(loss_d.detach())
        with autocast(d.device, cfg.amp):
            terms = L.regression_losses(fake, b["params"], w, mouth)
            loss_g = terms["reg"]
            if cfg.w_gan > 0:
                terms["gan"] = L.g_loss(Dw(fake))
                loss_g = loss_g + w.gan * terms["gan"]
        opts["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["G"].step()
        logs.update({k: float(v.detach()) for k, v in terms.items()})
        logs["g"] = float(loss_g.detach())
        return logs

    return fit(step_fn, out_dir=out_dir, cfg=cfg, start=start, models=models, optimizers=opts, config=conf,
               generator=gen, is_main=d.is_main, label="finetune facial-gan" if finetune else "train facial-gan",
               title="FACIAL-GAN (eq. 8)", stage="train facial-gan", argv=argv, progress=progress, on_step=on_step)
