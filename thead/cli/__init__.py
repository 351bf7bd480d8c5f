"""``thead`` command line: a thin layer over ``thead.stages`` (heavy libraries are imported inside commands)."""

from __future__ import annotations

import os
import sys
import time
import traceback


def _register() -> None:
    from thead.cli import stages  # noqa: F401  (first: the per-item stages head `thead --help`)
    from thead.cli import evaluate, manifest, papers, prepare, report, synthesize, train, weights  # noqa: F401


def main(args: list[str] | None = None) -> None:
    """Entry point: runs the app and maps outcomes to exit codes (0 ok, 1 error, 2 usage, 3 items failed)."""
    _register()
    t0 = time.perf_counter()
    try:
        _run(args)
    except SystemExit as e:
        _log_time(args, time.perf_counter() - t0, e.code)
        raise


def _log_time(args: list[str] | None, seconds: float, code) -> None:
    """With ``THEAD_TIMINGS=FILE`` in the environment, append one tab-separated line per invocation to FILE: the
    command (subcommand words before the first option or path), the wall seconds, the exit code and the full
    command line. The Makefiles set it so that reports show the time each step took."""
    path = os.environ.get("THEAD_TIMINGS")
    if not path:
        return
    argv = list(sys.argv[1:] if args is None else args)
    words = []
    for a in argv:
        if a.startswith("-") or "/" in a or "." in a:
            break
        words.append(a)
    line = "\t".join([" ".join(words) or "thead", f"{seconds:.1f}", str(code if code is not None else 0),
                      " ".join(argv).replace("\t", " ").replace("\n", " ")])
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as e:
        print(f"warning: cannot append to THEAD_TIMINGS={path}: {e}", file=sys.stderr)


def _click_exception() -> type:
    """The ClickException class behind typer's usage errors: typer >= 0.20 vendors click as ``typer._click``,
    older typer raises click's own."""
    import importlib

    import typer

    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            cls = importlib.import_module(mod).ClickException
        except (ImportError, AttributeError):
            continue
        if issubclass(typer.BadParameter, cls):
            return cls
    raise RuntimeError("cannot find the click exception class typer raises")


def _run(args: list[str] | None) -> None:
    """Run the app; every outcome ends in ``sys.exit`` with its code."""
    import typer

    from thead.cli.app import STATE, app
    from thead.errors import EXIT_ERROR, EXIT_USAGE, Interrupted, TheadError

    try:
        rv = app(args=args, standalone_mode=False, prog_name="thead")
    except KeyboardInterrupt:
        print("interrupted: finished items are kept; rerun the same command to resume", file=sys.stderr)
        sys.exit(130)
    except Interrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        sys.exit(130)
    except TheadError as e:
        if STATE["debug"]:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except (typer.Exit, typer.Abort) as e:
        if isinstance(e, typer.Abort):
            print("interrupted: finished items are kept; rerun the same command to resume", file=sys.stderr)
            sys.exit(130)
        sys.exit(getattr(e, "exit_code", 0))
    except _click_exception() as e:  # usage: a bad option or value
        ctx = getattr(e, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {' '.join(e.format_message().split())}{hint}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except Exception as e:  # noqa: BLE001 - one clean line, traceback only with --debug
        if STATE["debug"]:
            traceback.print_exc()
        msg = str(e) if isinstance(e, (ValueError, OSError)) else f"{type(e).__name__}: {e}"
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else 0)
