"""audio-features: speech features with one row per video frame (``thead.audio``), see ``thead.audio.features``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.runner import StageResult, WorkItem, discover, run_stage
from thead.stages.common import cached

KIND = "thead.audio"


def _frames_and_rate(work: WorkItem, cfg: dict) -> tuple[int, float]:
    """(T, fps): from an upstream landmarks/3dmm manifest item, a video's decoded frame count, or audio length."""
    from thead.audio.features import n_frames_for
    from thead.media import count_frames, probe_video
    from thead.media.video import probe

    if "landmarks" in work.upstream or "params" in work.upstream:
        key = "landmarks" if "landmarks" in work.upstream else "params"
        d = np.load(work.upstream[key])
        t = len(d["landmarks"]) if key == "landmarks" else len(d["expression"])
        return t, float(work.meta["fps"])
    if work.meta.get("media_type") == "video":
        fps = cfg["fps"] or float(probe_video(work.source).avg_fps)
        return count_frames(work.source, fps), fps
    fps = cfg["fps"] or 25.0
    return n_frames_for(float(probe(work.source)["format"]["duration"]), fps), fps


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    import time

    from thead.audio.features import SAMPLE_RATE, DeepSpeechFeatures, audio_features, windows
    from thead.manifest import atomic_save_npy
    from thead.media import load_audio

    t0 = time.perf_counter()
    n, fps = _frames_and_rate(work, cfg)
    audio = load_audio(work.source, SAMPLE_RATE)
    model = None
    if cfg["kind"] == "deepspeech":
        model = cached(("wav2vec2", cfg["model"], cfg["device"]), lambda: DeepSpeechFeatures(Path(cfg["model"]),
                                                                                             cfg["device"]))
    feat = audio_features(audio, fps, n, cfg["kind"], model)
    win = windows(feat)
    outputs = {"features": out_dir / f"{work.id}.{cfg['kind']}.npy",
               "windows": out_dir / f"{work.id}.{cfg['kind']}.windows.npy"}
    atomic_save_npy(outputs["features"], feat)
    atomic_save_npy(outputs["windows"], win)
    duration = len(audio) / SAMPLE_RATE
    if cfg["preview"]:
        outputs["plot"] = _plot(feat, fps, cfg["kind"], out_dir / f"{work.id}.{cfg['kind']}.png", work.id)
    meta = dict(feature_kind=cfg["kind"], dim=int(feat.shape[1]), fps=fps, n_frames=int(n),
                duration_s=round(duration, 3), sample_rate=SAMPLE_RATE,
                real_time_factor=round((time.perf_counter() - t0) / max(duration, 1e-6), 4))
    if abs(duration - n / fps) > max(0.5, 2.0 / fps):
        meta["note"] = f"audio lasts {duration:.2f} s but the video {n / fps:.2f} s; rows beyond the audio repeat " \
                       f"its last feature"
    return outputs, meta


def _plot(feat: np.ndarray, fps: float, kind: str, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thead.viz import save_figure

    fig, ax = plt.subplots(figsize=(10, 3))
    data = feat[:, :13] if kind == "mfcc" else np.exp(feat)
    ax.imshow(data.T, aspect="auto", origin="lower", extent=(0, len(feat) / fps, 0, data.shape[1]),
              cmap="magma", interpolation="nearest")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MFCC" if kind == "mfcc" else "symbol (space, a-z, ', blank)")
    ax.set_title(f"{title}: {kind}, {len(feat)} frames at {fps:g} fps")
    fig.tight_layout()
    return save_figure(fig, path)


def run(inputs: list[Path], out_dir: Path, kind: str = "mfcc", fps: Optional[float] = None,
        model: Optional[Path] = None, device: str = "cpu", preview: bool = True, workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None) -> StageResult:
    """Speech features per video frame for audio files, videos, or the items of a ``thead.landmarks`` /
    ``thead.3dmm`` manifest (their frame count and rate are then used exactly; still images in it are left out).

    Outputs per item: ``<id>.<kind>.npy`` (T, D) float32, ``<id>.<kind>.windows.npy`` (T, 16, D) float32 (rows
    t-8..t+7, edges repeated) and a PNG of the features. ``fps``: the video rate for audio-only inputs (default 25)
    or a resampling rate for videos (default their average rate).

    Raises:
        InputError: unknown kind, deepspeech without a loadable ``model`` (checked before any item).
    """
    from thead.audio.features import KINDS, DeepSpeechFeatures
    from thead.errors import InputError

    if kind not in KINDS:
        raise InputError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "deepspeech":
        if model is None:
            raise InputError("--kind deepspeech needs --model DIR (a local wav2vec2 CTC checkpoint)")
        DeepSpeechFeatures(Path(model), device)  # a bad folder is one error up front
    items, up = discover(inputs, media=("video", "audio"), accept_kinds=("thead.landmarks", "thead.3dmm"))
    items = [w for w in items if w.meta.get("media_type") != "image"]  # stills of a manifest have no audio
    cfg = dict(kind=kind, fps=fps, model=str(Path(model).resolve()) if model else None, device=device,
               preview=preview)
    return run_stage("audio-features", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug, argv)
