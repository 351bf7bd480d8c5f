"""The per-item stages' commands, generated from their declarations (``thead.declare.StageDecl``): the shared
stages (``thead.stages.config.STAGES``) and the systems' own (``render-face``, ``make-bank``). Each setting of a
stage's ``Config`` becomes an option with its default and help text; ``stage_command`` adds the run options once.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import RunOptions, app, number, paths, stage_command
from thead.declare import REQUIRED, StageDecl, defaults
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


for _decl in (*STAGES, RENDER_FACE, MAKE_BANK):
    register(app, _decl)
