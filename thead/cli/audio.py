from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import NON_NEGATIVE, POSITIVE, FRACTION, number  # noqa: F401
from thead.cli.app import (app, run_kw, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
                           shard_opt, workers_opt)


@app.command("audio-features", epilog="Examples: thead audio-features speech.wav --fps 25 -o work/audio;  "
             "thead audio-features work/landmarks/manifest.json --kind deepspeech --model wav2vec2-base-960h/")
def audio_features(
    inputs: list[Path] = typer.Argument(..., help="Audio or video files, folders, or a thead.landmarks / thead.3dmm "
                                        "manifest (its frame counts and rates are used)."),
    output: Path = typer.Option(Path("thead_out/audio"), "-o", "--output", help="Output folder."),
    kind: str = typer.Option("mfcc", help="mfcc (39-D, no weights needed) or deepspeech (29-D character "
                             "log-probabilities from --model)."),
    model: Optional[Path] = typer.Option(None, help="Local wav2vec2 CTC checkpoint folder (config.json, weights, "
                                         "vocab.json) for --kind deepspeech."),
    fps: Optional[float] = typer.Option(None, callback=number(**POSITIVE),
                                        help="Video frame rate: for audio-only inputs (default 25) or to "
                                        "resample videos (default their average rate)."),
    device: str = typer.Option("cpu", help="cpu or cuda (deepspeech)."),
    preview: bool = preview_opt(),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """Speech features with one row per video frame, plus FACIAL's 16-frame windows (FACIAL section 3.2).

    Output kind: thead.audio (.npy (T, D), .npy (T, 16, D), PNG).
    """
    from thead.stages import audio_features as st

    res = st.run(paths(inputs), output, kind, fps, model, device, preview, workers, parse_shard_or_exit(shard),
                 progress, **run_kw())
    return finish(res, as_json)


@app.command("render-face", epilog="Example: thead render-face work/au/manifest.json --size 128 -o work/render")
def render_face(
    au_manifest: Path = typer.Argument(..., help="A thead.au manifest made from a fit-3dmm manifest of videos."),
    output: Path = typer.Option(Path("thead_out/render"), "-o", "--output", help="Output folder."),
    size: int = typer.Option(128, min=32, max=1024, help="Crop side, px (multiple of 16)."),
    scale: float = typer.Option(4.0, callback=number(**POSITIVE),
                                help="Crop side in median outer-eye-corner distances (fixed per clip)."),
    workers: int = workers_opt(),
    shard: Optional[str] = shard_opt(),
    as_json: bool = json_opt(),
    progress: bool = progress_opt(),
) -> int:
    """FACIAL renders (section 3.3): per frame the real crop and the 3DMM render of its own fit with the eye
    attention map (RGBA PNGs), plus the reference data to render new parameters.

    Input kind: thead.au (from thead.3dmm). Output kind: thead.frames (frames, renders, MP4, reference npz).
    """
    from thead.systems.facial import render_face as st

    res = st.run(au_manifest, output, size, scale, workers, parse_shard_or_exit(shard), progress, **run_kw())
    return finish(res, as_json)
