from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
                           shard_opt, workers_opt)
from thead.cli.landmarks import _L


@app.command("extract-au", epilog="Example: thead extract-au work/3dmm/manifest.json -o work/au")
def extract_au(
    inputs: list[Path] = typer.Argument(..., help="A thead.3dmm manifest, media, or OpenFace CSVs."),
    output: Path = typer.Option(Path("thead_out/au"), "-o", "--output", help="Output folder."),
    from_openface: bool = typer.Option(False, "--from-openface", help="Inputs are OpenFace FeatureExtraction CSVs."),
    model: Optional[Path] = typer.Option(None, "--model", help="Face model for the fit (when given media)."),
    detector: str = _L["detector"],
    redetect_every: int = _L["redetect_every"],
    fps: Optional[float] = _L["fps"],
    preview: bool = preview_opt(),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """Action-unit intensities AU01_r..AU45_r (OpenFace scale 0-5) per frame, from ICT blendshape weights.

    Input kind: thead.3dmm (or media, or OpenFace CSV). Output kind: thead.au (CSV + expression .npy + plot).
    """
    from thead.stages import au

    kw = {} if from_openface else dict(detector=detector, redetect_every=redetect_every, fps=fps)
    res = au.run(paths(inputs), output, from_openface, preview, workers, parse_shard_or_exit(shard), progress,
                 **run_kw(), model=str(model) if model else None, **kw)
    return finish(res, as_json)
