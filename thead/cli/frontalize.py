from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, progress_opt, shard_opt,
                           workers_opt)
from thead.cli.landmarks import _L


@app.command("frontalize", epilog="Example: thead frontalize portraits/ --size 100 -o work/frontal")
def frontalize(
    inputs: list[Path] = typer.Argument(..., help="A thead.landmarks manifest, or media (landmarks run first)."),
    output: Path = typer.Option(Path("thead_out/frontal"), "-o", "--output", help="Output folder."),
    size: int = typer.Option(100, min=16, max=2048, help="Output crop size, pixels (GATH: 100)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Face model whose mean shape is the reference head."),
    detector: str = _L["detector"],
    redetect_every: int = _L["redetect_every"],
    fps: Optional[float] = _L["fps"],
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """Frontalize faces (Hassner et al., CVPR 2015) to size x size crops, soft symmetry for occluded parts.

    Input kind: thead.landmarks (or media). Output kind: thead.frames (PNG, PNG folders, MP4, contact sheet).
    """
    from thead.stages import frontalize as st

    res = st.run(paths(inputs), output, size, str(model) if model else None, workers, parse_shard_or_exit(shard),
                 progress, **run_kw(), detector=detector, redetect_every=redetect_every, fps=fps)
    return finish(res, as_json)
