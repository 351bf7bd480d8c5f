"""The typer app, shared options and exit-code handling (0 ok, 1 error, 2 usage, 3 some items failed)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(
    name="thead",
    help="Composable stages for talking-head synthesis research (GATH, FLNet, FACIAL). Every stage reads media or "
    "a manifest and writes a manifest for the next stage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
STATE: dict = {"debug": False, "executor": None}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
          allow_outside: bool = typer.Option(
              False, "--allow-outside",
              help="Follow manifests' source paths anywhere (default: only inside the manifest's folder, the working "
              "directory and folders in THEAD_ALLOW_OUTSIDE) and read outputs they list outside their folder."),
          executor: str = typer.Option("local", "--executor", help="Where per-item stages run their items: local "
                                       "(--workers processes), ray (Ray tasks) or slurm (a submitit job array of "
                                       "shards, merged at the end)."),
          address: Optional[str] = typer.Option(None, "--address", help="Ray: cluster address (auto, "
                                                "ray://host:10001); default: start a local Ray."),
          retries: int = typer.Option(2, "--retries", min=0, help="Ray: retries of a task whose worker died."),
          partition: Optional[str] = typer.Option(None, "--partition", help="SLURM partition."),
          time_min: int = typer.Option(60, "--time-min", min=1, help="SLURM time limit per array task (minutes)."),
          mem_gb: float = typer.Option(8.0, "--mem-gb", help="SLURM memory per array task (GiB)."),
          slurm_tasks: int = typer.Option(16, "--slurm-tasks", min=1, help="SLURM array size (number of shards)."),
          array_parallelism: int = typer.Option(64, "--array-parallelism", min=1,
                                                help="SLURM array tasks running at once."),
          cpus_per_task: int = typer.Option(1, "--cpus-per-task", min=1,
                                            help="SLURM CPUs per array task (its --workers)."),
          slurm_cluster: str = typer.Option("slurm", "--slurm-cluster", help="slurm (sbatch), local (the array as "
                                            "local processes, to try it) or debug (in this process)."),
          ) -> None:
    import os

    from thead.errors import InputError
    from thead.executors import ExecutorSpec
    from thead.manifest.paths import ALLOW_ENV

    STATE["debug"] = debug
    try:
        STATE["executor"] = ExecutorSpec(executor, address, retries, partition, time_min, mem_gb, slurm_tasks,
                                         array_parallelism, cpus_per_task, slurm_cluster)
    except InputError as e:
        raise typer.BadParameter(str(e)) from None
    if allow_outside:
        os.environ[ALLOW_ENV] = "1"  # worker processes inherit it


def number(low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
           high_open: bool = False):
    """A typer callback that refuses NaN, infinities and values outside [low, high] (``*_open``: bound excluded)
    at parse time, so a bad number is a usage error (exit 2, one line) before any work starts."""
    from thead.declare import refusal

    def check(value):
        if value is None:
            return value
        vals = value if isinstance(value, (list, tuple)) else [value]
        for v in vals:
            why = refusal(v, low, high, low_open, high_open)
            if why:
                raise typer.BadParameter(f"{v} {why}")
        return value

    return check


POSITIVE = dict(low=0.0, low_open=True)
NON_NEGATIVE = dict(low=0.0)
FRACTION = dict(low=0.0, high=1.0, low_open=True, high_open=True)


# Options used by every per-item stage.
def workers_opt():
    return typer.Option(1, "--workers", "-j", min=1, help="Worker processes (one item per process).")


def shard_opt():
    return typer.Option(None, "--shard", metavar="K/N",
                        help="Process only shard K of N (0-based; deterministic by item id); merge shards with "
                        "'thead manifest merge'.")


def json_opt():
    return typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")


def progress_opt():
    return typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr.")


def preview_opt():
    return typer.Option(True, "--preview/--no-preview", help="Write overlays/plots to look at.")


def parse_shard_or_exit(spec: Optional[str]):
    from thead.manifest import parse_shard

    try:
        return parse_shard(spec)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--shard") from None


def finish(res, as_json: bool) -> int:
    """Print the summary and return the exit code."""
    s = res.summary()
    if as_json:
        print(json.dumps(s))
    else:
        msg = f"{s['done']} done ({s['reused']} reused), {s['failed']} failed -> {s['manifest']}"
        print(msg, file=sys.stderr)
    return res.exit_code


def argv() -> list[str]:
    return ["thead"] + sys.argv[1:]


def run_kw() -> dict:
    """What every stage's ``run`` takes from the root command: ``debug`` (``thead --debug``: a failed item's error
    in the manifest carries its traceback), ``executor`` (``thead --executor ...``) and the command line for the
    manifest's producer."""
    return dict(debug=STATE["debug"], argv=argv(), executor=STATE["executor"])


@dataclass
class RunOptions:
    """What every per-item stage takes besides its own settings, gathered once by ``stage_command`` and handed to
    the stage's ``run`` (``kw``) and from there to ``thead.runner.run_stage``.

    Attributes:
        workers: worker processes (``--workers``, one item each); shard: (k, n) or None (``--shard K/N``);
        progress: progress bars on stderr; as_json: print the summary as JSON; debug: ``thead --debug`` (a failed
        item's error in the manifest carries its traceback); argv: the command line, for the manifest's producer;
        executor: ``thead --executor ...`` (``thead.executors.ExecutorSpec``).
    """

    workers: int = 1
    shard: Optional[tuple[int, int]] = None
    progress: bool = True
    as_json: bool = False
    debug: bool = False
    argv: Optional[list[str]] = None
    executor: Any = None

    def kw(self) -> dict:
        """The keyword arguments every stage's ``run`` takes."""
        return dict(workers=self.workers, shard=self.shard, progress=self.progress, debug=self.debug,
                    argv=self.argv, executor=self.executor)


def stage_command(target: typer.Typer, name: str, **command_kw):
    """``target.command(name)`` for a per-item stage: the command function declares only its own inputs and
    settings and takes ``opts: RunOptions``; this adds ``--workers/-j``, ``--shard``, ``--json`` and
    ``--progress/--no-progress`` (declared once, here), builds ``opts`` from them and the root options, and turns
    the ``StageResult`` the function returns into the summary line (or JSON) and the exit code (``finish``)."""
    import functools
    import inspect
    import typing

    def deco(f):
        hints = typing.get_type_hints(f)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in inspect.signature(f).parameters.values() if p.name != "opts"]
        kw_only = inspect.Parameter.KEYWORD_ONLY
        common = [inspect.Parameter("workers", kw_only, default=workers_opt(), annotation=int),
                  inspect.Parameter("shard", kw_only, default=shard_opt(), annotation=Optional[str]),
                  inspect.Parameter("as_json", kw_only, default=json_opt(), annotation=bool),
                  inspect.Parameter("progress", kw_only, default=progress_opt(), annotation=bool)]

        @functools.wraps(f)
        def command(**kwargs) -> int:
            opts = RunOptions(workers=kwargs.pop("workers"), shard=parse_shard_or_exit(kwargs.pop("shard")),
                              progress=kwargs.pop("progress"), as_json=kwargs.pop("as_json"), **run_kw())
            return finish(f(**kwargs, opts=opts), opts.as_json)

        params = own + common
        command.__signature__ = inspect.Signature(params, return_annotation=int)
        command.__annotations__ = {p.name: p.annotation for p in params} | {"return": int}
        del command.__wrapped__  # typer must read the signature above, not f's
        return target.command(name, **command_kw)(command)

    return deco


def paths(inputs: list[Path]) -> list[Path]:
    return [Path(p) for p in inputs]
