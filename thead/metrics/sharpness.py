"""CPBD sharpness (Narvekar & Karam 2011, "cumulative probability of blur detection"), the metric FACIAL reports,
computed by the ``cpbd`` package. That package still imports ``scipy.ndimage.imread`` (removed from SciPy) at module
level without using it in ``compute``; thead supplies a placeholder for that name before importing it."""

from __future__ import annotations

import numpy as np


def cpbd(rgb: np.ndarray) -> float:
    """(H, W, 3) uint8 -> CPBD in [0, 1] (higher is sharper), on the grayscale image."""
    import cv2
    import scipy.ndimage

    if not hasattr(scipy.ndimage, "imread"):
        scipy.ndimage.imread = None  # the cpbd package imports this name; compute() does not use it
    import cpbd as _cpbd

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(_cpbd.compute(gray))
