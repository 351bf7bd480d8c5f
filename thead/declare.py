"""Stages as declarations: what a per-item stage is, stated once, from which the command line is generated.

A ``StageDecl`` names the stage, the input kinds it accepts, the kind it writes, its settings (a ``Config``
dataclass whose fields are declared with ``setting``: default, ``--help`` text and bounds) and where its code lives
(``"module:function"``, imported only when the stage runs, so ``thead --help`` stays fast). ``thead.cli.stages``
turns every declaration into a typer command with the settings as options and the run options (``--workers``,
``--shard``, ``--json``, ``--progress``) added once; the stage's ``run`` gets ``**config.run_kwargs()`` and the run
options. The defaults live in the ``Config``; the ``run`` functions take theirs from it (``defaults``).

The pattern follows nerfstudio's method configs and lhotse's recipes: one declaration, read by the CLI, the runner
and the docs alike. This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional


REQUIRED: Any = ...  # ``setting(REQUIRED, ...)``: an option the command line requires (no default)


def setting(default: Any, help: str, *, flag: Optional[str] = None, short: Optional[str] = None,
            low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
            high_open: bool = False, choices: Optional[tuple[str, ...]] = None, metavar: Optional[str] = None,
            scale: float = 1.0):
    """A ``Config`` field: its default, its ``--help`` text and what the command line checks before any work
    (``low``/``high`` bounds, ``*_open`` excluding them, NaN and infinities refused; ``choices`` for strings).
    ``flag``: the option's name when not ``--field-name`` (booleans get ``--x/--no-x`` unless given one).
    ``default`` ``REQUIRED``: the option has no default and must be given. ``scale``: the field holds the option's
    value times this (``--time-limit`` in minutes, ``time_limit_s`` in seconds: 60); bounds are in the option's
    unit."""
    meta = dict(help=help, flag=flag, short=short, low=low, high=high, low_open=low_open, high_open=high_open,
                choices=choices, metavar=metavar, scale=scale)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def retuned(base: type, name: str, default: Any, help: Optional[str] = None):
    """A subclass's field that keeps ``base``'s declaration of ``name`` (bounds, flag; and help unless given) with
    another default."""
    f = {f.name: f for f in dataclasses.fields(base)}[name]
    return field(default=default, metadata=dict(f.metadata, help=help) if help else f.metadata)


class Config:
    """Base of the stages' settings dataclasses. ``run_kwargs`` maps the settings to the stage function's
    keyword arguments: ``RENAME`` ({field: parameter}) where only the names differ; a subclass overrides it where
    the command line's form differs from the function's."""

    RENAME: ClassVar[dict[str, str]] = {}

    def run_kwargs(self) -> dict:
        return {self.RENAME.get(f.name, f.name): getattr(self, f.name)
                for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def check(self) -> None:
        """Refuse settings outside their declared bounds or choices (ValueError, one line); the command line
        checks the same at parse time, this guards library callers."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v, m = getattr(self, f.name), f.metadata
            if v is REQUIRED:
                raise ValueError(f"{f.name} is required")
            if v is None or isinstance(v, bool):
                continue
            if m.get("choices") and v not in m["choices"]:
                raise ValueError(f"{f.name} must be one of {', '.join(m['choices'])}, got {v!r}")
            if isinstance(v, (int, float)):
                scale = m.get("scale", 1.0)
                v = v / scale
                why = refusal(v, m.get("low"), m.get("high"), m.get("low_open", False), m.get("high_open", False))
                name = f.name if scale == 1.0 else f"{f.name} / {scale:g}"  # bounds are in the option's unit
                if why:
                    raise ValueError(f"{name}: {v} {why}" if why.startswith("is") else f"{name} {why}, got {v:g}")


def check_settings(config: type, **values) -> None:
    """A ``run`` function's guard for library callers: its settings (keyword names, ``config.RENAME`` applied) built
    into ``config`` and checked (``Config.check``); the command line checks the same at parse time.

    Raises:
        thead.errors.InputError: a value outside its declared bounds or choices (one line).
    """
    from thead.errors import InputError

    back = {v: k for k, v in getattr(config, "RENAME", {}).items()}
    names = {f.name for f in dataclasses.fields(config)}
    known = {back.get(k, k): v for k, v in values.items() if back.get(k, k) in names}
    full = {f.name: None for f in dataclasses.fields(config) if f.default is REQUIRED} | known  # given elsewhere
    try:
        config(**full).check()
    except ValueError as e:
        raise InputError(str(e)) from None


def refusal(v: float, low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
            high_open: bool = False) -> Optional[str]:
    """Why a number is refused (``"is not a finite number"``, ``"must be >= 16"``, ...), or None: the one check
    behind ``Config.check`` and the command line's parse-time callback (``thead.cli.app.number``)."""
    import math

    if isinstance(v, float) and not math.isfinite(v):
        return "is not a finite number"
    if low is not None and (v < low or (low_open and v == low)):
        return f"must be {'>' if low_open else '>='} {low:g}"
    if high is not None and (v > high or (high_open and v == high)):
        return f"must be {'<' if high_open else '<='} {high:g}"
    return None


@dataclass(frozen=True)
class StageDecl:
    """One per-item stage, declared once.

    Attributes:
        name: the subcommand (``extract-landmarks``).
        run: ``"module:function"`` of the stage's entry point, ``run(inputs, out_dir, **settings, workers=...,
            shard=..., progress=..., debug=..., argv=..., executor=...) -> thead.runner.StageResult``.
        config: the settings dataclass (a ``Config`` subclass built from ``setting`` fields).
        accepts: input kinds it reads (``thead.landmarks``, ...; ``media`` for videos / images / audio files).
        kind: the manifest kind it writes.
        summary: what it does, with the paper it follows (the command's help text).
        example: one command line.
        inputs_help: the help text of its positional inputs.
        default_output: the output folder when ``-o`` is not given.
        single_input: the stage reads exactly one manifest (its positional argument is one path).
        inputs_option: also take the inputs from this repeatable option (``--source``), added to the positional
            ones (which then become optional; at least one input is still required).
    """

    name: str
    run: str
    config: type
    accepts: tuple[str, ...]
    kind: str
    summary: str
    example: str
    inputs_help: str
    default_output: str
    single_input: bool = False
    inputs_option: Optional[str] = None

    def function(self) -> Callable:
        """The stage's entry point (imported now)."""
        return _resolve(self.run)


def _resolve(target: str) -> Callable:
    """``"module:function"`` -> the function (its module imported now)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Input:
    """One input of a trainer: a path option (``--name`` unless ``flag``), required unless ``required`` is False;
    ``many``: repeatable (a list); ``text``: strings rather than paths. ``name`` is the run function's parameter."""

    name: str
    help: str
    flag: Optional[str] = None
    required: bool = True
    many: bool = False
    text: bool = False


@dataclass(frozen=True)
class JobDecl:
    """One command that runs once over named inputs (not per item), declared once; ``thead.cli.stages.register_job``
    generates it. ``TrainerDecl`` is the ``thead train SYSTEM`` kind; ``thead synthesize facial`` is the other.

    Attributes:
        name: the subcommand (``gath``); run: ``"module:function"``, called as ``run(**inputs, out_dir=..., cfg=...,
            progress=..., argv=...)`` (and ``resume=...`` when ``resumable``), returning the path it announces;
            config: the settings dataclass (a ``Config``); inputs: its ``Input`` options; summary / example: the help
            text and one command line; default_output: the folder when ``-o`` is not given; only / exclude: which of
            the config's declared settings are options (default: every field declared with ``setting``);
            overrides: ``((field, default), ...)`` where this command's default differs from the config's;
            validate: ``"module:function"`` called with the config before the run (raises ``InputError``);
            resumable: add ``--resume``; result: what the returned path is, for the line printed at the end.
    """

    name: str
    run: str
    config: type
    inputs: tuple[Input, ...]
    summary: str
    example: str
    default_output: str
    only: Optional[tuple[str, ...]] = None
    exclude: tuple[str, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    validate: Optional[str] = None
    resumable: bool = False
    result: str = "output"

    def function(self) -> Callable:
        return _resolve(self.run)

    def options(self) -> list:
        """The config's fields that are command-line options, in declaration order."""
        out = []
        for f in dataclasses.fields(self.config):
            if not f.metadata.get("help") or f.name in self.exclude:
                continue
            if self.only is None or f.name in self.only:
                out.append(f)
        return out


@dataclass(frozen=True)
class TrainerDecl(JobDecl):
    """One ``thead train SYSTEM`` command (a ``JobDecl`` with ``--resume``, announcing its checkpoint); its config is a
    ``TrainSettings`` subclass (``thead.train.settings``)."""

    resumable: bool = True
    result: str = "checkpoint"


def defaults(config: type) -> dict:
    """{field: default} of a settings dataclass (``REQUIRED`` fields left out), for a ``run`` function's own keyword
    defaults."""
    out = {}
    for f in dataclasses.fields(config):
        if f.default is REQUIRED:
            continue
        out[f.name] = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return out
