"""Image tensors as every thead network takes and gives them: uint8 pixels <-> float32 in [-1, 1]."""

from __future__ import annotations

import numpy as np


def to_model_range(x_uint8):
    """uint8 tensor (..., C, H, W) -> float32 in [-1, 1]."""
    return x_uint8.float().div(127.5).sub(1.0)


def to_uint8(x) -> np.ndarray:
    """Tensor (..., 3, H, W) in [-1, 1] (clamped) -> numpy (..., H, W, 3) uint8."""
    y = x.detach().clamp(-1, 1).add(1).mul(127.5).round().byte().cpu()
    return y.movedim(-3, -1).numpy()
