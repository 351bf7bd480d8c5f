"""FACIAL-GAN training data from manifests: per clip, the speech features (``thead.audio``) and the reference
parameters built from ``extract-au`` and the ``fit-3dmm`` manifest it came from (``params.from_fit``), matched by
item id and frame by frame. Training samples are windows of T frames starting every ``hop`` frames (FACIAL: "a
sliding window of size T = 128 ... and a sliding distance of 5 frames between neighboring samples")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from thead.errors import InputError
from thead.systems.facial.params import ReferenceParams, from_fit


@dataclass
class FacialClip:
    id: str
    audio: np.ndarray  # (T, D) float32
    params: np.ndarray  # (T, P) float32, normalized
    ref: ReferenceParams
    source: Optional[Path] = None
    feature_kind: Optional[str] = None  # "mfcc" or "deepspeech" (thead.audio meta)


def reference_params(au_manifest: Path) -> dict[str, tuple[ReferenceParams, Optional[Path]]]:
    """Per item of an ``extract-au`` manifest (made from a ``fit-3dmm`` manifest): its reference parameters and
    source video.

    Raises:
        InputError: the AU manifest was not made from a 3DMM fit (e.g. ``--from-openface``), or mismatched frames.
    """
    from thead.face.au import read_au_item
    from thead.manifest import load_manifest

    am = load_manifest(au_manifest, "thead.au")
    up = am.resolve(am.manifest.upstream) if am.manifest.upstream else None
    if up is None or not Path(up).is_file():
        raise InputError(f"{au_manifest}: not made from a fit-3dmm manifest (no upstream); run extract-au on one")
    fm = load_manifest(up, "thead.3dmm")
    fits = {it.id: it for it in fm.done()}
    out = {}
    for it in am.done():
        if it.id not in fits:
            continue
        au, cols, _, ok = read_au_item(am, it)
        if "AU45_r" not in cols:
            raise InputError(f"{au_manifest}: item {it.id} has no AU45_r")
        fps = float(it.meta.get("fps") or fits[it.id].meta.get("fps") or 25.0)
        out[it.id] = (from_fit(fm.output(fits[it.id], "params"), au[:, cols.index("AU45_r")], ok, fps),
                      am.source(it))
    if not out:
        raise InputError(f"{au_manifest}: no item with both AUs and a 3DMM fit")
    return out


AUDIO_NORMS = ("cmvn", "none")


def cmvn(feat: np.ndarray) -> np.ndarray:
    """Utterance-level cepstral mean and variance normalisation: (T, D) features -> (T, D) float32 with each
    dimension's mean 0 and standard deviation 1 over the clip (standard deviations below 1e-3 count as 1e-3).

    Not in FACIAL, whose DeepSpeech features are already normalised log-probabilities; with MFCCs, whose log energy and
    cepstra shift with the recording's gain, microphone and speaker, per-utterance CMVN is the field's standard
    (e.g. Kaldi's ``apply-cmvn``). It makes FACIAL-GAN's input independent of the recording level (issue 11: on
    clips held out of pretraining it lowered the mouth error). Raises ValueError on non-finite features."""
    feat = np.asarray(feat, np.float64)
    if not np.isfinite(feat).all():
        raise ValueError("cmvn: the audio features are not all finite")
    return ((feat - feat.mean(0)) / np.maximum(feat.std(0), 1e-3)).astype(np.float32)


def normalize_audio(feat: np.ndarray, kind: str) -> np.ndarray:
    """``feat`` under the checkpoint's ``audio_norm`` (``AUDIO_NORMS``). Raises ValueError on an unknown kind."""
    if kind == "cmvn":
        return cmvn(feat)
    if kind == "none":
        return np.asarray(feat, np.float32)
    raise ValueError(f"audio_norm must be one of {', '.join(AUDIO_NORMS)}, got {kind!r}")


def load_clips(audio_manifest: Path, au_manifest: Path, only: Optional[list[str]] = None,
               audio_norm: str = "none") -> list[FacialClip]:
    """Clips present in both manifests (``only``: just these item ids), features under ``audio_norm``
    (``normalize_audio``).

    Raises:
        InputError: no common item, or a clip whose feature rows and fitted frames differ in number (run
        ``audio-features`` on the landmarks or 3dmm manifest so both count the same frames).
    """
    from thead.manifest import load_manifest
    from thead.manifest.arrays import load_array

    refs = reference_params(au_manifest)
    au_m = load_manifest(audio_manifest, "thead.audio")
    clips = []
    for it in au_m.done():
        if it.id not in refs or (only and it.id not in only):
            continue
        ref, src = refs[it.id]
        feat = load_array(au_m.output(it, "features")).astype(np.float32)
        if len(feat) != len(ref.params):
            raise InputError(f"{it.id}: {len(feat)} audio feature rows but {len(ref.params)} fitted frames; run "
                             "audio-features on the landmarks/3dmm manifest")
        clips.append(FacialClip(it.id, normalize_audio(feat, audio_norm), ref.normalized(), ref, src,
                                it.meta.get("feature_kind")))
    if not clips:
        raise InputError(f"{audio_manifest} + {au_manifest}: no common items")
    dims = {(c.audio.shape[1], c.params.shape[1]) for c in clips}
    if len(dims) > 1:
        raise InputError(f"clips differ in feature/parameter sizes {sorted(dims)}")
    return clips


class WindowSampler:
    """Random training windows (T frames, starts every ``hop`` frames) drawn with a torch.Generator.

    Clips shorter than T contribute one window padded by repeating the last frame.
    """

    def __init__(self, clips: list[FacialClip], window: int = 128, hop: int = 5):
        from thead.audio.features import windows

        self.clips, self.window = clips, window
        self.wins = [windows(c.audio) for c in clips]
        self.index = [(k, s) for k, c in enumerate(clips) for s in range(0, max(1, len(c.audio) - window + 1), hop)]

    def __len__(self) -> int:
        return len(self.index)

    def sample(self, batch_size: int, gen: torch.Generator, device="cpu") -> dict[str, torch.Tensor]:
        """``audio`` (B, T, D), ``windows`` (B, T, 16, D), ``params`` (B, T, P) normalized, ``state`` (B, P)."""
        from thead.systems.facial.windows import window_slice

        rows = [self.index[int(i)] for i in torch.randint(len(self.index), (batch_size,), generator=gen)]
        a = np.stack([window_slice(self.clips[k].audio, s, self.window) for k, s in rows])
        w = np.stack([window_slice(self.wins[k], s, self.window) for k, s in rows])
        p = np.stack([window_slice(self.clips[k].params, s, self.window) for k, s in rows])
        t = {k: torch.from_numpy(v).to(device) for k, v in (("audio", a), ("windows", w), ("params", p))}
        t["state"] = t["params"][:, 0]
        return t
