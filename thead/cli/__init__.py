"""``thead`` command line: a thin layer over ``thead.stages`` (heavy libraries are imported inside commands)."""

from __future__ import annotations

import sys
import traceback


def _register() -> None:
    from thead.cli import au, clahe, fit3dmm, frontalize, landmarks, manifest, report  # noqa: F401


def main(args: list[str] | None = None) -> None:
    """Entry point: runs the app and maps outcomes to exit codes."""
    import click

    from thead.cli.app import STATE, app
    from thead.errors import EXIT_ERROR, EXIT_USAGE, TheadError

    _register()
    try:
        rv = app(args=args, standalone_mode=False, prog_name="thead")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("error: interrupted (finished items are kept; rerun to resume)", file=sys.stderr)
        sys.exit(130)
    except (TheadError, ValueError, OSError) as e:
        if STATE["debug"]:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except Exception as e:  # noqa: BLE001 - one clean line, traceback only with --debug
        if STATE["debug"]:
            traceback.print_exc()
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else 0)
