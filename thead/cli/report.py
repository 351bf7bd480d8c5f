from __future__ import annotations

import sys
from pathlib import Path

import typer

from thead.cli.app import app


@app.command("report", epilog="Example: thead report work/ -o work/report.md")
def report(work_dir: Path = typer.Argument(..., help="Folder holding stage outputs (searched recursively)."),
           output: Path = typer.Option(None, "-o", "--output", help="Markdown file (default WORK_DIR/report.md)."),
           title: str = typer.Option("thead report", help="Report title."),
           timings: Path = typer.Option(None, help="A THEAD_TIMINGS file: the report starts with the time each "
                                        "step took.")) -> int:
    """Markdown report of every manifest under a folder: status, figures, previews."""
    from thead.errors import InputError
    from thead.report import build_report

    if not work_dir.is_dir():
        raise InputError(f"{work_dir}: no such folder")
    out = build_report(work_dir, output or work_dir / "report.md", title, timings)
    print(f"report -> {out}", file=sys.stderr)
    return 0
