from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import app


@app.command("paper-figures", epilog="Example: thead paper-figures flnet work/flnet/eval/metrics.json --run "
             "work/flnet/run -o work/flnet/paper.md")
def paper_figures(
    system: str = typer.Argument(..., help="gath, flnet or facial."),
    metrics: Path = typer.Argument(..., help="metrics.json of 'thead evaluate SYSTEM'."),
    run: Optional[list[Path]] = typer.Option(None, help="A training run folder (repeatable): its step time and the "
                                             "loader's own samples/s join the table."),
    corpus: Optional[list[str]] = typer.Option(None, help="The corpora evaluated on (recipe names, repeatable): "
                                               "only the paper's figures for those are listed."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the table as Markdown here."),
    json_out: bool = typer.Option(False, "--json", help="Print the comparison as JSON instead of a table."),
) -> int:
    """The paper's published figures (GATH Tables 1-3, FLNet Table 1, FACIAL Table 1) beside an evaluation's.

    Input: an evaluate metrics.json. Output: a table on stdout (and Markdown with -o).
    """
    from thead.manifest import atomic_write_text
    from thead.papers import compare, markdown

    result = compare(system, metrics, tuple(run or ()), tuple(corpus or ()))
    if json_out:
        print(json.dumps(result, indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        def f(v, spec=".3f"):
            return "n/a" if v is None else format(v, spec)

        t = Table(title=f"{system}: the paper's figures beside this run's ({result['row']})")
        for col in ("figure", "paper", "this run", "better", "source"):
            t.add_column(col)
        for g in result["figures"]:
            t.add_row(g["label"], f(g["paper"]), f(g["run"]), g["better"], g["source"])
        console = Console()
        console.print(t)
        if result["note"]:
            console.print(f"note: {result['note']}")
        for r, tp in result["runs"].items():
            console.print(f"{r}: step {tp['step']}, {f(tp['step_s'])} s a step, {f(tp['samples_per_s'], '.1f')} "
                          f"samples/s trained; the loader alone {f(tp['loader_samples_per_s'], '.1f')} samples/s")
    if output is not None:
        atomic_write_text(output, markdown(result))
        print(f"paper figures -> {output}", file=sys.stderr)
    return 0
