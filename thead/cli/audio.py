from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import (app, argv, finish, json_opt, parse_shard_or_exit, paths, preview_opt, progress_opt,
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
    fps: Optional[float] = typer.Option(None, help="Video frame rate: for audio-only inputs (default 25) or to "
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
                 progress, argv=argv())
    return finish(res, as_json)
