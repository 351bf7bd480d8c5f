"""FACIAL-GAN's sliding windows (official code): T = 128 frames per window with stride T - 1 = 127, so each window's
first frame is the previous window's last frame, whose predicted parameters seed the next window's initial state s.
Stitching keeps window 0 whole and frames 1..T-1 of every later window, so every frame is produced exactly once.
Audio shorter than one window, and the last partial window, are padded by repeating the last feature row."""

from __future__ import annotations

import numpy as np

WINDOW = 128  # frames, FACIAL "sliding window of size T = 128"
STRIDE = WINDOW - 1


def window_starts(n_frames: int, window: int = WINDOW) -> list[int]:
    """First frame of each window covering ``n_frames`` frames (stride ``window - 1``)."""
    if n_frames < 1:
        raise ValueError("no frames")
    starts = [0]
    while starts[-1] + window < n_frames:
        starts.append(starts[-1] + window - 1)
    return starts


def window_slice(x: np.ndarray, start: int, window: int = WINDOW) -> np.ndarray:
    """Rows start..start+window-1 of ``x`` (T, ...), padded by repeating the last row past the end."""
    idx = np.minimum(np.arange(start, start + window), len(x) - 1)
    return x[idx]


def stitch(pieces: list[np.ndarray], starts: list[int], n_frames: int) -> np.ndarray:
    """Join per-window outputs (window, P) into (n_frames, P): window 0 whole, later windows without their first
    frame (it is the previous window's last); padding past ``n_frames`` is dropped."""
    out = [pieces[0]] + [p[1:] for p in pieces[1:]]
    joined = np.concatenate(out)
    if len(joined) < n_frames:
        raise ValueError(f"windows cover {len(joined)} frames, need {n_frames}")
    return joined[:n_frames]
