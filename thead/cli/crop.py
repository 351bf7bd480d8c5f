from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, progress_opt, shard_opt,
                           workers_opt)
from thead.cli.landmarks import _L


@app.command("crop-faces", epilog="Example: thead crop-faces videos/ --size 128 --identity alice -o work/crops")
def crop_faces(
    inputs: list[Path] = typer.Argument(..., help="A thead.landmarks manifest, or media (landmarks run first)."),
    output: Path = typer.Option(Path("thead_out/crops"), "-o", "--output", help="Output folder."),
    size: int = typer.Option(128, min=16, max=1024, help="Crop side, px (FLNet: 224; 128 for CPU); multiple of 16."),
    center: str = typer.Option("nose", help="nose (nose tip at the centre) or eyes (outer eye corners' midpoint)."),
    scale: float = typer.Option(2.8, callback=number(**POSITIVE),
                                help="Crop side in outer-eye-corner distances (one per clip, no zooming)."),
    identity: Optional[str] = typer.Option(None, help="Tag every input as this one person (else one per item)."),
    detector: str = _L["detector"],
    redetect_every: int = _L["redetect_every"],
    fps: Optional[float] = _L["fps"],
    interpolate_gaps: bool = _L["interpolate_gaps"],
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """FLNet face crops: the face centred without alignment (no rotation, one zoom per clip), landmarks in crop px.

    Input kind: thead.landmarks (or media). Output kind: thead.frames (PNG, PNG folders, MP4, landmarks npz).
    """
    from thead.stages import crop as st

    res = st.run(paths(inputs), output, size, center, scale, identity, workers, parse_shard_or_exit(shard), progress,
                 **run_kw(), detector=detector, redetect_every=redetect_every, fps=fps,
                 interpolate_gaps=interpolate_gaps)
    return finish(res, as_json)


def _frame_range(spec: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in spec.split(":"))
    except ValueError:
        raise typer.BadParameter("expected START:END fractions, e.g. 0:0.8", param_hint="--frames") from None
    return a, b


@app.command("make-bank", epilog="Example: thead make-bank work/crops/manifest.json --bank-size 5 -o work/bank")
def make_bank(
    manifest: Path = typer.Argument(..., help="A thead.frames crop manifest (thead crop-faces)."),
    output: Path = typer.Option(Path("thead_out/bank"), "-o", "--output", help="Output folder."),
    bank_size: int = typer.Option(5, min=1, help="N images per bank (FLNet: 5)."),
    frames: str = typer.Option("0:0.8", help="Part of each clip to choose from, as fractions START:END (default: "
                               "the frames 'train flnet --holdout 0.2' trains on)."),
    identity: Optional[list[str]] = typer.Option(None, help="Only these identities (repeatable; default all)."),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """FLNet source banks: per person, N crops evenly spaced in mouth openness (closed to open), with landmarks.

    Input kind: thead.frames (crops). Output kind: thead.bank.
    """
    from thead.systems.flnet.bank import make_banks

    res = make_banks(manifest, output, bank_size, _frame_range(frames), list(identity) if identity else None,
                     workers, parse_shard_or_exit(shard), progress, **run_kw())
    return finish(res, as_json)
