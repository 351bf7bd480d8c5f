"""Pixel errors on the 0-255 scale (GATH Table 1: MAE and RMSE, full image or within a face mask)."""

from __future__ import annotations

from typing import Optional

import numpy as np


def mae_rmse(a: np.ndarray, b: np.ndarray, mask: Optional[np.ndarray] = None) -> tuple[float, float]:
    """Mean absolute and root-mean-square error between uint8 images (..., H, W, 3), over all channels.

    Args:
        mask: (H, W) bool; when given only those pixels count.
    """
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[..., mask, :]
    return float(np.abs(d).mean()), float(np.sqrt((d**2).mean()))
