"""``thead train SYSTEM``: one command per system, generated from its declaration (``thead.declare.TrainerDecl``,
beside each system's config: ``thead.systems.<name>.config``). The inputs become path options, every declared
setting of the system's config an option with its default and help text (the shared ones from
``thead.train.settings.TrainSettings``), plus ``-o``, ``--resume`` and ``--progress``. Runs under torchrun
unchanged."""

from __future__ import annotations

import typer

from thead.cli.app import app
from thead.cli.stages import register_job
from thead.systems.facial.config import TRAIN_FACIAL_GAN, TRAIN_RENDER2VIDEO
from thead.systems.flnet.config import TRAIN_FLNET
from thead.systems.gath.config import TRAIN_AUE, TRAIN_GATH

train_app = typer.Typer(help="Train a system's networks: thead train SYSTEM ... (runs under torchrun unchanged).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

TRAINERS = (TRAIN_AUE, TRAIN_GATH, TRAIN_FLNET, TRAIN_FACIAL_GAN, TRAIN_RENDER2VIDEO)
for _decl in TRAINERS:
    register_job(train_app, _decl)
