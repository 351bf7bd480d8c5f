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


def augment_photometric_shift(x, gen, max_shift: int = 4, jitter: float = 0.15):
    """Standard classifier augmentation for face crops in [-1, 1], (B, C, H, W): a random translation of up to
    ``max_shift`` px (reflect padding, then a crop) and random brightness / contrast scaling of up to +/-``jitter``,
    per sample. Geometry is kept otherwise (no flips: left/right action units would swap)."""
    import torch
    from torch.nn import functional as F

    b, _, h, w = x.shape
    if max_shift > 0:
        pad = F.pad(x, (max_shift,) * 4, mode="reflect")
        dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
        dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
        x = torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    if jitter > 0:
        gain = 1 + (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * jitter
        bias = (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * jitter
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * gain + mean + bias).clamp(-1, 1)
    return x
