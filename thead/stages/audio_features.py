"""audio-features: speech features with one row per video frame (``thead.audio``), see ``thead.audio.features``."""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import defaults
from thead.stages.config import AudioFeaturesConfig
from thead.runner import StageResult, WorkItem, discover, run_stage
from thead.manifest.paths import item_path

KIND = "thead.audio"


def _frames_and_rate(work: WorkItem, cfg: dict, n_samples: int) -> tuple[int, float, float]:
    """(T, fps, start_s): frame count and rate from an upstream landmarks/3dmm manifest item, a video's decoded
    frames, or the decoded audio's length (not the container's duration, which MP3 files only estimate); start_s is
    frame 0's time after the first audio sample."""
    from thead.audio.features import SAMPLE_RATE, n_frames_for
    from thead.media import FrameReader, count_frames, probe_video

    if "landmarks" in work.upstream or "params" in work.upstream:
        key = "landmarks" if "landmarks" in work.upstream else "params"
        d = np.load(work.upstream[key])
        t = len(d["landmarks"]) if key == "landmarks" else len(d["expression"])
        start = 0.0
        if "timestamps_s" in d.files and len(d["timestamps_s"]) and work.meta.get("media_type") == "video":
            start = max(float(d["timestamps_s"][0]) - probe_video(work.source).audio_start_s, 0.0)
        return t, float(work.meta["fps"]), start
    if work.meta.get("media_type") == "video":
        reader = FrameReader(work.source, fps=cfg["fps"])  # default: the stream's average rate
        return (count_frames(work.source, reader.fps), reader.fps,
                max(reader.first_s - reader.info.audio_start_s, 0.0))
    fps = cfg["fps"] or 25.0
    return n_frames_for(n_samples / SAMPLE_RATE, fps), fps, 0.0


SIDECAR_SUFFIXES = (".wav", ".flac")


def speech_source(path: Path) -> Path:
    """The file to take a clip's speech from: the video itself, or, when it has no audio track, a ``.wav`` or
    ``.flac`` of the same stem beside it (corpora such as StyleTalk's ship silent clips with their speech beside
    them). Files without either are returned unchanged, so that ``load_audio`` gives its "no audio track" error."""
    from thead.errors import InputError
    from thead.media import has_audio

    path = Path(path)
    try:
        if has_audio(path):
            return path
    except InputError:
        return path
    for suffix in SIDECAR_SUFFIXES:
        side = path.with_suffix(suffix)
        if side.is_file() and side != path:
            return side
    return path


@functools.cache  # one per worker process
def _wav2vec2(path: str, device: str):
    from thead.audio.features import DeepSpeechFeatures

    return DeepSpeechFeatures(Path(path), device)


def process(work: WorkItem, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    import time

    from thead.audio.features import SAMPLE_RATE, audio_features
    from thead.manifest import atomic_save_npy
    from thead.media import load_audio

    t0 = time.perf_counter()
    sound = speech_source(work.source)
    audio = load_audio(sound, SAMPLE_RATE)
    n, fps, start_s = _frames_and_rate(work, cfg, len(audio))
    model = None
    if cfg["kind"] == "deepspeech":
        model = _wav2vec2(str(cfg["model"]), cfg["device"])
    feat = audio_features(audio, fps, n, cfg["kind"], model, start_s)
    tag = cfg["kind"].replace("+", "-")  # file names: mfcc-phones
    outputs = {"features": item_path(out_dir, work.id, f".{tag}.npy")}
    atomic_save_npy(outputs["features"], feat)
    duration = len(audio) / SAMPLE_RATE
    if cfg["preview"]:
        outputs["plot"] = _plot(feat, fps, cfg["kind"], item_path(out_dir, work.id, f".{tag}.png"), work.id)
    meta = dict(feature_kind=cfg["kind"], dim=int(feat.shape[1]), fps=fps, n_frames=int(n),
                duration_s=round(duration, 3), sample_rate=SAMPLE_RATE,
                real_time_factor=round((time.perf_counter() - t0) / max(duration, 1e-6), 4))
    if start_s > 0:
        meta["audio_offset_s"] = round(start_s, 4)
    notes = []
    if sound != work.source:
        meta["audio_source"] = sound.name
        notes.append(f"the video has no audio track; used {sound.name} beside it")
    claimed = _claimed_duration(work.source)
    if claimed is not None and claimed - duration > max(0.1, 1.0 / fps):
        notes.append(f"the file's header promises {claimed:.2f} s of audio but only {duration:.2f} s could be "
                     f"decoded (truncated file); used what is there")
    if abs(duration - start_s - n / fps) > max(0.5, 2.0 / fps):
        notes.append(f"audio lasts {duration:.2f} s but the video {n / fps:.2f} s; rows beyond the audio repeat its "
                     f"last feature")
    if notes:
        meta["note"] = "; ".join(notes)
    return outputs, meta


def _claimed_duration(path: Path) -> Optional[float]:
    """The duration a WAV file's header promises (its data chunk's size), read with the standard library's ``wave``;
    None for other files (their durations are estimates) and for WAVs ``wave`` cannot parse."""
    import wave

    if Path(path).suffix.lower() != ".wav":
        return None
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, OSError, ZeroDivisionError):
        return None


def _plot(feat: np.ndarray, fps: float, kind: str, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from thead.viz import save_figure

    fig, ax = plt.subplots(figsize=(10, 3))
    if kind == "mfcc":
        data, label = feat[:, :13], "MFCC"
    elif kind == "deepspeech":
        data, label = np.exp(feat), "symbol (space, a-z, ', blank)"
    else:  # phones, mfcc+phones: the 40 phone columns last
        data, label = feat[:, -40:], "phone (silence, ARPAbet order)"
    ax.imshow(data.T, aspect="auto", origin="lower", extent=(0, len(feat) / fps, 0, data.shape[1]),
              cmap="magma", interpolation="nearest")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(label)
    ax.set_title(f"{title}: {kind}, {len(feat)} frames at {fps:g} fps")
    fig.tight_layout()
    return save_figure(fig, path)


_D = defaults(AudioFeaturesConfig)  # the declaration's defaults (thead.stages.config): the CLI's and run()'s


def run(inputs: list[Path], out_dir: Path, kind: str = _D["kind"], fps: Optional[float] = _D["fps"],
        model: Optional[Path] = _D["model"], device: str = _D["device"], preview: bool = _D["preview"],
        workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None) -> StageResult:
    """Speech features per video frame for audio files, videos, or the items of a ``thead.landmarks`` /
    ``thead.3dmm`` manifest (their frame count and rate are then used exactly; still images in it are left out).

    Outputs per item: ``<id>.<kind>.npy`` (T, D) float32 and a PNG of the features (FACIAL cuts its 16-frame
    windows from the features itself, ``thead.audio.features.windows``; they are no longer written: 16x the
    features' size, read by nobody). ``fps``: the video rate for audio-only inputs (default 25)
    or a resampling rate for videos (default their average rate).

    Raises:
        InputError: unknown kind, deepspeech without a loadable ``model`` (checked before any item).
    """
    from thead.audio.features import KINDS, DeepSpeechFeatures
    from thead.errors import InputError

    if kind not in KINDS:
        raise InputError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "deepspeech":
        from thead import zoo

        model = zoo.find("wav2vec2-base-960h", model)
        if model is None:
            raise InputError("--kind deepspeech needs --model DIR (a local wav2vec2 CTC checkpoint), or "
                             "'thead weights download wav2vec2-base-960h'")
        DeepSpeechFeatures(Path(model), device)  # a bad folder is one error up front
    items, up = discover(inputs, media=("video", "audio"),
                         accept_kinds=("thead.landmarks", "thead.3dmm", "thead.corpus"))
    items = [w for w in items if w.meta.get("media_type") != "image"]  # stills of a manifest have no audio
    cfg = dict(kind=kind, fps=fps, model=str(Path(model).resolve()) if model else None, device=device,
               preview=preview)
    return run_stage("audio-features", KIND, process, items, out_dir, cfg, workers, shard, up, progress, debug, argv,
                     executor=executor)
