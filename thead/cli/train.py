"""``thead train SYSTEM``: one command per system, generated from its declaration (``thead.declare.TrainerDecl``,
beside each system's config: ``thead.systems.<name>.config``). The inputs become path options, every declared
setting of the system's config an option with its default and help text (the shared ones from
``thead.train.settings.TrainSettings``), plus ``-o``, ``--resume`` and ``--progress``. Runs under torchrun
unchanged."""

from __future__ import annotations

import inspect
import sys
import typing
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import app, argv, progress_opt
from thead.cli.stages import _option
from thead.declare import TrainerDecl, _resolve, defaults
from thead.systems.facial.config import TRAIN_FACIAL_GAN, TRAIN_RENDER2VIDEO
from thead.systems.flnet.config import TRAIN_FLNET
from thead.systems.gath.config import TRAIN_AUE, TRAIN_GATH

train_app = typer.Typer(help="Train a system's networks: thead train SYSTEM ... (runs under torchrun unchanged).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

TRAINERS = (TRAIN_AUE, TRAIN_GATH, TRAIN_FLNET, TRAIN_FACIAL_GAN, TRAIN_RENDER2VIDEO)
_S = "s__"  # prefix of the settings' parameter names (a setting may share a name with an input or -o)


def _announce(checkpoint: Path) -> None:
    """Print the run's checkpoint path once: under torchrun every rank returns from training, rank 0 speaks."""
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(f"checkpoint -> {checkpoint}", file=sys.stderr)


def register_trainer(target: typer.Typer, decl: TrainerDecl) -> None:
    """Add ``thead train NAME --INPUT ... -o RUN [settings] [--resume] [--progress]`` to ``target``."""
    pk = inspect.Parameter.POSITIONAL_OR_KEYWORD
    hints = typing.get_type_hints(decl.config)
    initial = defaults(decl.config) | dict(decl.overrides)
    params = []
    for inp in decl.inputs:
        ann = (list[str] if inp.text else list[Path]) if inp.many else Path
        flag = inp.flag or "--" + inp.name.replace("_", "-")
        params.append(inspect.Parameter(inp.name, pk, annotation=ann if inp.required else Optional[ann],
                                        default=typer.Option(... if inp.required else None, flag, help=inp.help)))
    params.append(inspect.Parameter("output", pk, annotation=Path, default=typer.Option(
        Path(decl.default_output), "-o", "--output", help="Run folder.")))
    fields = decl.options()
    for f in fields:
        shown = initial[f.name] / f.metadata["scale"] if f.metadata.get("scale", 1.0) != 1.0 else initial[f.name]
        params.append(inspect.Parameter(_S + f.name, pk, annotation=hints[f.name],
                                        default=_option(f, hints[f.name], shown)))
    params += [inspect.Parameter("resume", pk, annotation=bool, default=typer.Option(
                   False, "--resume", help="Continue the run in the output folder from last.pt.")),
               inspect.Parameter("progress", pk, annotation=bool, default=progress_opt())]

    def command(**values) -> int:
        inputs = {i.name: values.pop(i.name) for i in decl.inputs}
        for i in decl.inputs:
            if i.many:
                inputs[i.name] = list(inputs[i.name]) if inputs[i.name] else None
        settings = {f.name: values.pop(_S + f.name) for f in fields}
        for f in fields:
            if f.metadata.get("scale", 1.0) != 1.0 and settings[f.name] is not None:
                settings[f.name] = settings[f.name] * f.metadata["scale"]
        cfg = decl.config(**settings)
        try:
            cfg.check()
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        if decl.validate:
            _resolve(decl.validate)(cfg)
        p = decl.function()(**inputs, out_dir=values["output"], cfg=cfg, resume=values["resume"],
                            progress=values["progress"], argv=argv())
        _announce(p)
        return 0

    command.__signature__ = inspect.Signature(params, return_annotation=int)
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
    command.__name__ = "train_" + decl.name.replace("-", "_")
    command.__doc__ = decl.summary
    target.command(decl.name, epilog=f"Example: {decl.example}")(command)


for _decl in TRAINERS:
    register_trainer(train_app, _decl)
