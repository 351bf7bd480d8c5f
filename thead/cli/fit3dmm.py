from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
                           shard_opt, workers_opt)
from thead.cli.landmarks import _L


@app.command("fit-3dmm", epilog="Example: thead fit-3dmm work/landmarks/manifest.json -o work/3dmm")
def fit_3dmm(
    inputs: list[Path] = typer.Argument(..., help="A thead.landmarks manifest, or media (landmarks run first)."),
    output: Path = typer.Option(Path("thead_out/3dmm"), "-o", "--output", help="Output folder."),
    model: Optional[Path] = typer.Option(None, "--model", help="Face model: BFM_model_front.mat or an ICT .npz "
                                         "(default: bundled ICT Face Model Light)."),
    detector: str = _L["detector"],
    redetect_every: int = _L["redetect_every"],
    fps: Optional[float] = _L["fps"],
    preview: bool = preview_opt(),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """Fit a 3DMM to each clip's landmarks: identity per clip, expression and pose per frame.

    Input kind: thead.landmarks (or media). Output kind: thead.3dmm, with per-frame reprojection error.
    """
    from thead.stages import fit3dmm

    res = fit3dmm.run(paths(inputs), output, str(model) if model else None, preview, workers,
                      parse_shard_or_exit(shard), progress, **run_kw(), detector=detector,
                      redetect_every=redetect_every, fps=fps)
    return finish(res, as_json)
