"""FACIAL's rendering-to-video network (section 3.4, eq. 10-11), after Chan et al.'s pix2pixHD-based setup.

- Input X_t: the 2 N_w renders t - N_w .. t + N_w - 1 (current frame at index N_w; edges repeated), each RGB +
  attention map, stacked to (B, 8 N_w, S, S) in [-1, 1].
- G^r, two architectures (``make_generator``):
  - ``pix2pixhd`` (the paper's, the default on a GPU): pix2pixHD's global generator, narrowed by ``width``: 7x7
    conv, three stride-2 convs (x2 channels each), six residual blocks, three transposed convs, 7x7 conv to RGB,
    tanh; instance norm and ReLU.
  - ``unet-residual`` (thead's CPU default; a departure, issue 11): a U-Net (four stride-2 levels, skip connections
    at every level, two residual blocks at the bottom, bilinear upsampling + 3x3 convs) that predicts a correction
    added to the current frame's render, its last conv starting at zero so that step 0 outputs the render itself.
    The render already holds the face at the right pose and expression; pix2pixHD's generator has to rebuild it
    through an 8x bottleneck and in a few hundred CPU steps gives a blur, whereas the skips carry the render's detail
    and the residual leaves the network only what the render lacks (hair, background, teeth, eye detail, shading).
    The same reasoning as Chan et al.'s and Kim et al.'s U-Net renderers (Everybody Dance Now's pix2pixHD keeps the
    global generator; Deep Video Portraits uses a U-Net with skips).
- D^r = (D_1, D_2, D_3): pix2pixHD's multi-scale PatchGAN, each on (X_t, frame) at full, 1/2 and 1/4 size (3x3
  average pooling between scales): 4x4 convs with 64-128-256-512 x width/64 channels, instance norm, LeakyReLU(0.2),
  returning every layer's features for the feature-matching loss.
- Loss (eq. 10): sum over scales of LSGAN + lambda_1 feature matching, + lambda_2 perceptual + lambda_3 L1, with
  (lambda_1, lambda_2, lambda_3) = (2, 10, 50). thead weighs the L1 term's pixels by ``1 + w_face`` inside the
  rendered face (``face_weight``; not in the paper: the face is what paste-back keeps, and a short run otherwise
  spends its capacity on the background).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cbr(cin, cout, k, s, p, transpose=False):
    conv = (nn.ConvTranspose2d(cin, cout, k, s, p, output_padding=1) if transpose else nn.Conv2d(cin, cout, k, s, p))
    return nn.Sequential(conv, nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class _Res(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(_cbr(ch, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1), nn.InstanceNorm2d(ch, affine=True))

    def forward(self, x):
        return x + self.body(x)


class RenderGenerator(nn.Module):
    """G^r: (B, 8 N_w, S, S) stacked renders -> (B, 3, S, S) frame in [-1, 1]; S a multiple of 8."""

    def __init__(self, n_w: int = 2, width: int = 32, n_res: int = 6):
        super().__init__()
        w = width
        self.n_w = n_w
        self.net = nn.Sequential(
            _cbr(8 * n_w, w, 7, 1, 3), _cbr(w, 2 * w, 3, 2, 1), _cbr(2 * w, 4 * w, 3, 2, 1),
            _cbr(4 * w, 8 * w, 3, 2, 1),
            *[_Res(8 * w) for _ in range(n_res)],
            _cbr(8 * w, 4 * w, 3, 2, 1, True), _cbr(4 * w, 2 * w, 3, 2, 1, True), _cbr(2 * w, w, 3, 2, 1, True),
            nn.Conv2d(w, 3, 7, 1, 3), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _down(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.InstanceNorm2d(cout, affine=True), nn.LeakyReLU(0.2, True))


def _up(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class ResidualUNet(nn.Module):
    """G^r for a CPU budget: (B, 8 N_w, S, S) stacked renders -> (B, 3, S, S) frame, the current render plus a
    learned correction (module doc). Any S >= 16. The output is not squashed by tanh (so that the identity
    at step 0 is exact); ``thead.train.images.to_uint8`` clips it to [-1, 1] when frames are written."""

    def __init__(self, n_w: int = 2, width: int = 32, depth: int = 4, n_res: int = 2):
        super().__init__()
        self.n_w = n_w
        chans = [width * min(2 ** i, 8) for i in range(depth + 1)]
        self.inp = nn.Sequential(nn.Conv2d(8 * n_w, chans[0], 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.downs = nn.ModuleList([_down(chans[i], chans[i + 1]) for i in range(depth)])
        self.mid = nn.Sequential(*[_Res(chans[-1]) for _ in range(n_res)])
        self.ups = nn.ModuleList([_up(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(depth))])
        self.out = nn.Conv2d(chans[0], 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        render = x[:, 4 * self.n_w:4 * self.n_w + 3]
        h = self.inp(x)
        skips = [h]
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = self.mid(skips.pop())
        for up in self.ups:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = up(torch.cat([h, skip], 1))
        return render + self.out(h)


ARCHS = ("pix2pixhd", "unet-residual")


def resolve_arch(arch: str, device: str) -> str:
    """``auto`` -> ``pix2pixhd`` on a GPU, ``unet-residual`` on a CPU; other names are checked.

    Raises:
        ValueError: an unknown name.
    """
    if arch == "auto":
        return "pix2pixhd" if str(device).startswith("cuda") else "unet-residual"
    if arch not in ARCHS:
        raise ValueError(f"unknown rendering-to-video architecture {arch!r} (one of auto, {', '.join(ARCHS)})")
    return arch


def make_generator(arch: str, n_w: int, width: int) -> nn.Module:
    """G^r of the named architecture (``ARCHS``)."""
    if arch == "pix2pixhd":
        return RenderGenerator(n_w, width)
    if arch == "unet-residual":
        return ResidualUNet(n_w, width)
    raise ValueError(f"unknown rendering-to-video architecture {arch!r}")


def face_weight(x: torch.Tensor, n_w: int, w_face: float) -> torch.Tensor:
    """(B, 1, S, S) per-pixel L1 weights: 1 + ``w_face`` where the current render has a face (any channel above
    black), 1 elsewhere, normalised to mean 1 over the batch so that ``lambda_3`` keeps its scale."""
    render = x[:, 4 * n_w:4 * n_w + 3]
    mask = (render > -0.98).any(1, keepdim=True).float()
    w = 1.0 + w_face * mask
    return w / w.mean().clamp_min(1e-6)


class PatchD(nn.Module):
    """One pix2pixHD PatchGAN; ``forward`` returns the list of every layer's output (the last is the score map)."""

    def __init__(self, cin: int, width: int = 64):
        super().__init__()
        w = width
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Conv2d(cin, w, 4, 2, 2), nn.LeakyReLU(0.2, True)),
            nn.Sequential(nn.Conv2d(w, 2 * w, 4, 2, 2), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2, True)),
            nn.Sequential(nn.Conv2d(2 * w, 4 * w, 4, 2, 2), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2, True)),
            nn.Sequential(nn.Conv2d(4 * w, 8 * w, 4, 1, 2), nn.InstanceNorm2d(8 * w), nn.LeakyReLU(0.2, True)),
            nn.Conv2d(8 * w, 1, 4, 1, 2)])

    def forward(self, x):
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiScaleD(nn.Module):
    """D^r: three PatchGANs on (X_t, frame) at 1, 1/2 and 1/4 scale."""

    def __init__(self, n_w: int = 2, width: int = 64, n_scales: int = 3):
        super().__init__()
        self.ds = nn.ModuleList([PatchD(8 * n_w + 3, width) for _ in range(n_scales)])

    def forward(self, x: torch.Tensor, frame: torch.Tensor) -> list[list[torch.Tensor]]:
        h = torch.cat([x, frame], 1)
        out = []
        for k, d in enumerate(self.ds):
            if k:
                h = F.avg_pool2d(h, 3, 2, 1, count_include_pad=False)
            out.append(d(h))
        return out


def lsgan(outs: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
    """pix2pixHD's least-squares GAN loss summed over scales."""
    return sum(F.mse_loss(o[-1], torch.full_like(o[-1], 1.0 if real else 0.0)) for o in outs)


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """L_FM (Wang et al. 2018): L1 between D's intermediate features of real and generated frames, averaged over
    layers, summed over scales."""
    total = 0.0
    for f, r in zip(fake, real):
        total = total + sum(F.l1_loss(a, b.detach()) for a, b in zip(f[:-1], r[:-1])) / (len(f) - 1)
    return total


def window_indices(t: int, n_w: int, n: int):
    """Frames t - N_w .. t + N_w - 1 clamped to [0, n - 1]: the 2 N_w renders G^r reads for frame t (current at
    index N_w, edges repeated)."""
    import numpy as np

    return np.clip(np.arange(t - n_w, t + n_w), 0, n - 1)
