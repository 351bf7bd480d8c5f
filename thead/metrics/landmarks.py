"""Landmark distance (LMD; Chen et al. 2018): the mean Euclidean distance between the 68 landmarks found on
generated frames and the target landmarks, in pixels of the frame size used."""

from __future__ import annotations

import numpy as np


def landmark_distance(found: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame LMD: (T, 68, 2), (T, 68, 2) px -> (T,) px (NaN where either is NaN)."""
    return np.linalg.norm(np.asarray(found, np.float64) - np.asarray(target, np.float64), axis=-1).mean(-1)


class LandmarkFinder:
    """dlib landmarks on small generated crops: upscaled to ``min_side`` px first, mapped back to the crop's px."""

    def __init__(self, min_side: int = 256):
        from thead.face.landmarks import LandmarkExtractor

        self.ex = LandmarkExtractor()
        self.min_side = min_side

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 -> (68, 2) px, NaN when no face is found."""
        from thead.media.image import upscale_min_side

        big = upscale_min_side(rgb, self.min_side)
        z = big.shape[1] / rgb.shape[1]
        r = self.ex.image(big)
        if not r.detected[0]:
            return np.full((68, 2), np.nan, np.float32)
        return ((r.landmarks[0] + 0.5) / z - 0.5).astype(np.float32)
