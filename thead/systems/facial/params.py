"""FACIAL's per-frame parameter vector from a reference video (fit-3dmm + extract-au), and its normalisation.

Layout (the official code's 71-D vector, with thead's face model deciding the expression length K):

    index 0-2   pitch, yaw, roll (rad)              pose, z-scored per video
    index 3     scale (px per model unit)           pose, z-scored per video
    index 4-5   tx, ty (px)                         pose, z-scored per video
    index 6     AU45_r / 5 (blink, 0-1)
    index 7..   expression coefficients (K; ICT blendshape weights in [0, 1] -> P = 60; BFM's 64 -> P = 71)

Frames where the fit failed (``valid`` false) or the AU row has ``success`` 0 are filled by linear interpolation
from their neighbours. The normalisation is an affine map per dimension, ``(x - offset) / scale``, whose offsets and
scales are kept beside the parameters so predictions can be mapped back (``denormalize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thead.errors import InputError

POSE = slice(0, 6)
EYE = 6
EXP_START = 7
POSE_NAMES = ["pitch", "yaw", "roll", "scale", "tx", "ty"]
AU45_SCALE = 5.0  # OpenFace intensity range 0-5 -> 0-1
MIN_POSE_STD = 1e-3


def param_names(exp_names: list[str]) -> list[str]:
    return POSE_NAMES + ["AU45"] + [f"exp:{n}" for n in exp_names]


@dataclass
class ReferenceParams:
    """Raw parameters (T, P) float32, their names, and the normalisation (offset, scale), each (P,)."""

    params: np.ndarray
    names: list[str]
    offset: np.ndarray
    scale: np.ndarray
    fps: float
    n_filled: int = 0

    def normalized(self) -> np.ndarray:
        return normalize(self.params, self.offset, self.scale)

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(params=self.params.astype(np.float32), offset=self.offset.astype(np.float32),
                    scale=self.scale.astype(np.float32), names=np.array(self.names), fps=np.float64(self.fps))

    @classmethod
    def load(cls, path: Path) -> "ReferenceParams":
        d = np.load(path)
        return cls(d["params"], [str(x) for x in d["names"]], d["offset"], d["scale"], float(d["fps"]))


def normalize(x: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((x - offset) / scale).astype(np.float32)


def denormalize(x: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (x * scale + offset).astype(np.float32)


def _fill(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    if ok.all():
        return x
    idx = np.arange(len(x))
    out = x.copy()
    for d in range(x.shape[1]):
        out[~ok, d] = np.interp(idx[~ok], idx[ok], x[ok, d])
    return out


def from_fit(fit_npz: Path, au45: np.ndarray, au_ok: np.ndarray, fps: float) -> ReferenceParams:
    """Build the parameters of one clip.

    Args:
        fit_npz: a ``fit-3dmm`` params file (rotation, scale, translation, expression, valid, exp_names).
        au45: (T,) AU45_r intensities 0-5 (``extract-au`` CSV); au_ok: (T,) success flags.

    Raises:
        InputError: frame counts differ, or no frame has both a fit and an AU row.
    """
    d = np.load(fit_npz)
    t = len(d["expression"])
    if len(au45) != t:
        raise InputError(f"{fit_npz}: {t} fitted frames but {len(au45)} AU rows")
    ok = d["valid"].astype(bool) & np.asarray(au_ok, bool)
    if not ok.any():
        raise InputError(f"{fit_npz}: no frame with both a 3DMM fit and AUs")
    raw = np.concatenate([d["rotation"], d["scale"][:, None], d["translation"], (au45 / AU45_SCALE)[:, None],
                          d["expression"]], 1).astype(np.float64)
    raw = _fill(raw, ok)
    offset = np.zeros(raw.shape[1])
    scale = np.ones(raw.shape[1])
    offset[POSE] = raw[:, POSE].mean(0)
    scale[POSE] = np.maximum(raw[:, POSE].std(0), MIN_POSE_STD)
    names = param_names([str(x) for x in d["exp_names"]]) if "exp_names" in d else \
        param_names([str(i) for i in range(d["expression"].shape[1])])
    return ReferenceParams(raw.astype(np.float32), names, offset, scale, fps, int((~ok).sum()))
