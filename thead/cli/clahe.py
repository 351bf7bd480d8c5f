from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
                           shard_opt, workers_opt)


@app.command("postprocess-clahe", epilog="Example: thead postprocess-clahe work/frontal/manifest.json -o work/clahe")
def postprocess_clahe(
    inputs: list[Path] = typer.Argument(..., help="Images, videos, folders, or a thead.frames manifest."),
    output: Path = typer.Option(Path("thead_out/clahe"), "-o", "--output", help="Output folder."),
    mode: str = typer.Option("value", help="value (HSV V, as scikit-image), lab (L*) or rgb (per channel)."),
    clip_limit: float = typer.Option(0.01, callback=number(**dict(low=0.0, high=1.0)),
                                     min=0.0, max=1.0, help="Clip limit, scikit-image's normalized units."),
    tiles: int = typer.Option(8, min=1, help="Tiles per side."),
    denoise: float = typer.Option(0.0, callback=number(**NON_NEGATIVE),
                                  min=0.0, help="Non-local-means strength h (0: off)."),
    sharpen: float = typer.Option(0.0, callback=number(**NON_NEGATIVE), min=0.0, help="Unsharp-mask amount (0: off)."),
    preview: bool = preview_opt(),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """CLAHE contrast restoration (GATH section 4.2), optional NLM denoise and unsharp mask.

    Input: media or thead.frames. Output kind: thead.frames.
    """
    from thead.stages import clahe

    if mode not in ("value", "lab", "rgb"):
        raise typer.BadParameter("must be value, lab or rgb", param_hint="--mode")
    res = clahe.run(paths(inputs), output, mode, clip_limit, tiles, denoise, sharpen, preview, workers,
                    parse_shard_or_exit(shard), progress, **run_kw())
    return finish(res, as_json)
