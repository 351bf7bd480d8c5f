from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
                           shard_opt, workers_opt)

EPILOG = "Example: thead extract-landmarks videos/ -o work/landmarks"


def landmark_options():
    """Options shared by every command that may run landmark extraction first."""
    return dict(
        detector=typer.Option("hog", help="Face detector: hog (dlib HOG) or cnn (dlib mmod, slower)."),
        redetect_every=typer.Option(10, min=1, help="Frames between detector runs while tracking."),
        fps=typer.Option(None, callback=number(**POSITIVE),
                         help="Decode videos at this constant rate, frames/s (default: average rate)."),
        interpolate_gaps=typer.Option(False, help="Fill gaps of up to 1 s without a face (flagged)."),
    )


_L = landmark_options()


@app.command("extract-landmarks", epilog=EPILOG)
def extract_landmarks(
    inputs: list[Path] = typer.Argument(..., help="Videos, images, folders of them, or a manifest."),
    output: Path = typer.Option(Path("thead_out/landmarks"), "-o", "--output", help="Output folder."),
    detector: str = _L["detector"],
    redetect_every: int = _L["redetect_every"],
    fps: Optional[float] = _L["fps"],
    interpolate_gaps: bool = _L["interpolate_gaps"],
    preview: bool = preview_opt(),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """68-point landmarks (dlib, ibug order) per frame; writes a thead.landmarks manifest.

    Input: media or any manifest with sources. Output kind: thead.landmarks. Method: dlib HOG/mmod detection with
    landmark-box tracking (Kazemi & Sullivan 2014 shape predictor).
    """
    from thead.stages import landmarks

    if detector not in ("hog", "cnn"):
        raise typer.BadParameter("must be hog or cnn", param_hint="--detector")
    res = landmarks.run(paths(inputs), output, detector, redetect_every, fps, interpolate_gaps, preview, workers,
                        parse_shard_or_exit(shard), progress, **run_kw())
    return finish(res, as_json)
