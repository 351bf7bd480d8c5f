"""CPBD sharpness (Narvekar & Karam 2011, "cumulative probability of blur detection"), the metric FACIAL reports,
computed with the ``cpbd`` package's own edge maps (skimage's Canny, its Octave-compatible Sobel) and its own block
statistics (``_calculate_sharpness_metric``).

One part is thead's: the package measures edge widths (Marziliano's method) in a per-pixel Python loop, about 0.5 s
for a 512 x 512 frame on one core, which made CPBD the slowest part of ``evaluate facial``. ``edge_widths`` does the
same scan with numpy over all edge pixels at once and returns the package's exact matrix (a test compares both on
real frames), so the figure is unchanged and about 20x faster. That package also still imports
``scipy.ndimage.imread`` (removed from SciPy) at module level without using it; thead supplies a placeholder for that
name before importing it.
"""

from __future__ import annotations

import numpy as np

MAX_MARGIN = 100  # the package scans at most 101 pixels on each side of an edge


def _import_cpbd():
    import scipy.ndimage

    if not hasattr(scipy.ndimage, "imread"):
        scipy.ndimage.imread = None  # the cpbd package imports this name; compute() does not use it
    import importlib

    return importlib.import_module("cpbd.compute")  # the module (the package's __init__ shadows it by a function)


def edge_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Marziliano edge widths, as ``cpbd.compute.marziliano_method`` computes them.

    Args:
        edges: (H, W) Sobel edge map (1 at edges).
        image: (H, W) float64 grayscale, 0-255.

    Returns:
        (H, W) float64: 0 off edges, else the width in px of the edge along its row (2-202), measured at interior
        edge pixels whose gradient angle rounds to 0 or +/-180 degrees.
    """
    gy, gx = np.gradient(image)
    with np.errstate(divide="ignore", invalid="ignore"):
        angles = np.where(gx != 0, np.arctan2(gy, gx) * (180 / np.pi), np.where(gy == np.pi / 2, 90.0, 0.0))
    out = np.zeros(image.shape)
    if not np.any(angles):
        return out
    q = 45 * np.round(angles / 45)
    h, w = image.shape
    inner = np.zeros_like(edges, dtype=bool)
    inner[1:h - 1, 1:w - 1] = edges[1:h - 1, 1:w - 1] == 1
    for sign, mask in ((1.0, inner & ((q == 180) | (q == -180))), (-1.0, inner & (q == 0))):
        rows, cols = np.nonzero(mask)
        if not len(rows):
            continue
        # sign +1 (angle 180): the left side (-1) stops where intensity stops falling outwards (diff <= 0), the right
        # side (+1) where it stops rising (diff >= 0); sign -1 (angle 0): the reverse. Both: side * sign * diff >= 0
        width = np.zeros(len(rows))
        for side in (-1, 1):
            found = np.full(len(rows), MAX_MARGIN, dtype=np.int64)
            open_ = np.ones(len(rows), dtype=bool)
            for m in range(MAX_MARGIN + 1):
                inner_c = cols + side * (1 + m)
                outer_c = cols + side * (2 + m)
                outside = (outer_c < 0) | (outer_c >= w)
                oc, ic = np.clip(outer_c, 0, w - 1), np.clip(inner_c, 0, w - 1)
                diff = image[rows, oc] - image[rows, ic]
                stop = outside | (side * sign * diff >= 0)
                hit = open_ & stop
                found[hit] = m
                open_ &= ~stop
                if not open_.any():
                    break
            width += found + 1
        out[rows, cols] = width
    return out


def cpbd(rgb: np.ndarray) -> float:
    """(H, W, 3) uint8 -> CPBD in [0, 1] (higher is sharper), on the grayscale image (the ``cpbd`` package's
    ``compute`` with ``edge_widths`` for its edge-width loop)."""
    import cv2

    c = _import_cpbd()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(c._calculate_sharpness_metric(gray, c.canny(gray), edge_widths(c.sobel(gray), gray)))
