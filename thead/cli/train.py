from __future__ import annotations

import sys
from pathlib import Path


import typer

from thead.cli.app import app, argv, progress_opt

train_app = typer.Typer(help="Train a system's networks: thead train SYSTEM ... (runs under torchrun unchanged).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


def _common():
    return dict(
        steps=typer.Option(10000, min=1, help="Training steps."),
        batch_size=typer.Option(64, min=1, help="Batch size per process."),
        lr=typer.Option(1e-4, help="Adam learning rate."),
        width=typer.Option(64, min=4, help="Channels of the first conv layer (network width)."),
        checkpoint_every=typer.Option(500, min=1, help="Steps between checkpoints (last.pt)."),
        seed=typer.Option(0, help="Random seed (rank is added under torchrun)."),
        device=typer.Option("cpu", help="cpu, cuda, cuda:N or auto."),
        resume=typer.Option(False, "--resume", help="Continue the run in the output folder from last.pt."),
    )


_C = _common()


@train_app.command("aue", epilog="Example: thead train aue --target-frames work/frontal/manifest.json "
                   "--target-au work/au/manifest.json -o runs/aue")
def train_aue(
    target_frames: Path = typer.Option(..., help="thead.frames manifest of frontalized target video frames."),
    target_au: Path = typer.Option(..., help="thead.au manifest of the same videos (AU coefficient vectors)."),
    output: Path = typer.Option(Path("runs/aue"), "-o", "--output", help="Run folder."),
    steps: int = _C["steps"], batch_size: int = _C["batch_size"], lr: float = _C["lr"], width: int = _C["width"],
    checkpoint_every: int = _C["checkpoint_every"], seed: int = _C["seed"], device: str = _C["device"],
    resume: bool = _C["resume"], progress: bool = progress_opt(),
) -> int:
    """Train GATH's AU estimator E (GATH equation 2): frames to AU coefficients; conv3_2 gives f_au.

    Input kinds: thead.frames + thead.au. Output kind: thead.checkpoint.
    """
    from thead.systems.gath.train import TrainConfig, train_aue as run

    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, width=width, checkpoint_every=checkpoint_every,
                      seed=seed, device=device)
    p = run(target_frames, target_au, output, cfg, resume, progress, argv())
    print(f"checkpoint -> {p}", file=sys.stderr)
    return 0


@train_app.command("gath", epilog="Example: thead train gath --source work/frontal/manifest.json --target-frames "
                   "work/frontal/manifest.json --target-au work/au/manifest.json --aue runs/aue/last.pt -o runs/gath")
def train_gath(
    source: Path = typer.Option(..., help="thead.frames manifest of source portraits/frames (identity = item)."),
    target_frames: Path = typer.Option(..., help="thead.frames manifest of frontalized target video frames."),
    target_au: Path = typer.Option(..., help="thead.au manifest of the target videos."),
    aue: Path = typer.Option(..., help="AU estimator checkpoint (thead train aue)."),
    output: Path = typer.Option(Path("runs/gath"), "-o", "--output", help="Run folder."),
    variant: str = typer.Option("gath", help="gath (G+D+C), gath-c (G+D) or gath-dc (G only)."),
    lambda_rec: float = typer.Option(1.0, help="Weight of the reconstruction loss (GATH eq. 3)."),
    lambda_tv: float = typer.Option(1.0, help="Weight of the total-variation loss."),
    lambda_adv: float = typer.Option(0.05, help="Weight of the adversarial loss."),
    lambda_cls: float = typer.Option(0.05, help="Weight of the identity classification loss."),
    beta1: float = typer.Option(0.9, help="Adam beta1."),
    max_per_item: int = typer.Option(0, min=0, help="Source frames kept per video item (0: all)."),
    steps: int = _C["steps"], batch_size: int = _C["batch_size"], lr: float = _C["lr"], width: int = _C["width"],
    checkpoint_every: int = _C["checkpoint_every"], seed: int = _C["seed"], device: str = _C["device"],
    resume: bool = _C["resume"], progress: bool = progress_opt(),
) -> int:
    """Train GATH or a baseline with GATH's composite loss (equation 3; updates: equations 9, 10).

    Input kinds: thead.frames (source, target) + thead.au + an AUE checkpoint. Output kind: thead.checkpoint.
    """
    from thead.systems.gath.train import VARIANTS, TrainConfig, train_gath as run

    if variant not in VARIANTS:
        raise typer.BadParameter(f"must be one of {', '.join(VARIANTS)}", param_hint="--variant")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, width=width, checkpoint_every=checkpoint_every,
                      seed=seed, device=device, variant=variant, lambda_rec=lambda_rec, lambda_tv=lambda_tv,
                      lambda_adv=lambda_adv, lambda_cls=lambda_cls, beta1=beta1, max_per_item=max_per_item)
    p = run(source, target_frames, target_au, aue, output, cfg, resume, progress, argv())
    print(f"checkpoint -> {p}", file=sys.stderr)
    return 0


