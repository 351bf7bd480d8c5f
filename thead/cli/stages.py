"""Commands generated from declarations (``thead.declare``): the per-item stages (``StageDecl``: the shared
stages, ``thead.stages.config.STAGES``, and the systems' own, ``render-face`` and ``make-bank``), registered here;
``register`` also makes ``thead synthesize gath|flnet``. ``register_job`` makes the commands that run once over
named inputs (``JobDecl``: ``thead train SYSTEM``, ``thead synthesize facial``). Each setting of a ``Config`` becomes
an option with its default and help text; ``stage_command`` adds the run options once.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import RunOptions, app, argv, number, paths, progress_opt, stage_command
from thead.declare import REQUIRED, JobDecl, StageDecl, _resolve, defaults
from thead.stages.config import STAGES
from thead.systems.facial.config import RENDER_FACE
from thead.systems.flnet.config import MAKE_BANK


def _choice(name: str, choices: tuple[str, ...]):
    def check(value):
        if value is not None and value not in choices:
            raise typer.BadParameter(f"must be one of {', '.join(choices)}", param_hint=name)
        return value

    return check


def _option(f: dataclasses.Field, annotation, default) -> typer.models.OptionInfo:
    m = f.metadata
    name = "--" + f.name.replace("_", "-")
    if m.get("flag"):
        decls = [m["flag"]]
    elif annotation is bool:
        decls = [f"{name}/--no-{name[2:]}"]
    else:
        decls = [name]
    if m.get("short"):
        decls.append(m["short"])
    callback = None
    if m.get("choices"):
        callback = _choice(decls[0], m["choices"])
    elif m.get("low") is not None or m.get("high") is not None or annotation in (float, Optional[float]):
        callback = number(m.get("low"), m.get("high"), m.get("low_open", False), m.get("high_open", False))
    return typer.Option(default, *decls, help=m.get("help"), callback=callback, metavar=m.get("metavar"))


def register(target: typer.Typer, decl: StageDecl) -> None:
    """Add ``decl``'s command to ``target``: ``thead NAME INPUTS... -o OUT [settings] [run options]``."""
    hints = typing.get_type_hints(decl.config)
    fields = dataclasses.fields(decl.config)
    pk = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if decl.single_input:  # one manifest: its name in the usage line
        inputs = inspect.Parameter("manifest", pk, annotation=Path,
                                   default=typer.Argument(..., help=decl.inputs_help))
    elif decl.inputs_option:  # positional inputs, or the same given with an option (e.g. --source)
        inputs = inspect.Parameter("inputs", pk, annotation=Optional[list[Path]],
                                   default=typer.Argument(None, help=decl.inputs_help))
    else:
        inputs = inspect.Parameter("inputs", pk, annotation=list[Path],
                                   default=typer.Argument(..., help=decl.inputs_help))
    extra = []
    if decl.inputs_option:
        extra = [inspect.Parameter("inputs_opt", pk, annotation=Optional[list[Path]],
                                   default=typer.Option(None, decl.inputs_option,
                                                        help=f"{decl.inputs_help.rstrip('.')} (the same as the "
                                                        "positional INPUTS; repeatable)."))]
    output = inspect.Parameter("output", pk, annotation=Path,
                               default=typer.Option(Path(decl.default_output), "-o", "--output",
                                                    help="Output folder."))
    initial = defaults(decl.config)
    settings = [inspect.Parameter(f.name, pk, annotation=hints[f.name],
                                  default=_option(f, hints[f.name], initial.get(f.name, REQUIRED)))
                for f in fields]
    opts = inspect.Parameter("opts", pk, annotation=RunOptions, default=None)

    def command(output, opts, **values):
        inputs = values.pop("manifest" if decl.single_input else "inputs")
        if decl.inputs_option:
            inputs = (inputs or []) + (values.pop("inputs_opt") or [])
            if not inputs:
                raise typer.BadParameter(f"give at least one input (positional or {decl.inputs_option})",
                                         param_hint="INPUTS")
        cfg = decl.config(**values)
        try:
            cfg.check()
            kwargs = cfg.run_kwargs()
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        return decl.function()(inputs if decl.single_input else paths(inputs), output, **kwargs, **opts.kw())

    params = [inputs, *extra, output, *settings, opts]
    command.__signature__ = inspect.Signature(params, return_annotation=int)
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
    command.__name__ = decl.name.replace("-", "_")
    accepts = ", ".join(decl.accepts)
    command.__doc__ = f"{decl.summary}\n\nInput: {accepts}. Output kind: {decl.kind}."
    stage_command(target, decl.name, epilog=f"Example: {decl.example}")(command)


_S = "s__"  # prefix of a job's settings' parameter names (a setting may share a name with an input or -o)


def _announce(what: str, path: Path) -> None:
    """Print the job's result path once: under torchrun every rank returns from training, rank 0 speaks."""
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{what} -> {path}", file=sys.stderr)


def register_job(target: typer.Typer, decl: JobDecl) -> None:
    """Add ``thead ... NAME --INPUT ... -o OUT [settings] [--resume] [--progress]`` to ``target``."""
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
        Path(decl.default_output), "-o", "--output", help="Run folder." if decl.resumable else "Output folder.")))
    fields = decl.options()
    for f in fields:
        shown = initial[f.name] / f.metadata["scale"] if f.metadata.get("scale", 1.0) != 1.0 else initial[f.name]
        params.append(inspect.Parameter(_S + f.name, pk, annotation=hints[f.name],
                                        default=_option(f, hints[f.name], shown)))
    if decl.resumable:
        params.append(inspect.Parameter("resume", pk, annotation=bool, default=typer.Option(
            False, "--resume", help="Continue the run in the output folder from last.pt.")))
    params.append(inspect.Parameter("progress", pk, annotation=bool, default=progress_opt()))

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
        extra = {"resume": values["resume"]} if decl.resumable else {}
        p = decl.function()(**inputs, out_dir=values["output"], cfg=cfg, progress=values["progress"], argv=argv(),
                            **extra)
        _announce(decl.result, p)
        return 0

    command.__signature__ = inspect.Signature(params, return_annotation=int)
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
    command.__name__ = decl.name.replace("-", "_")
    command.__doc__ = decl.summary
    target.command(decl.name, epilog=f"Example: {decl.example}")(command)


for _decl in (*STAGES, RENDER_FACE, MAKE_BANK):
    register(app, _decl)
