"""FACIAL-GAN objective (FACIAL eq. 4-8): per-frame squared L2 terms V and motion terms U for expression, pose and
blink AU, the L1 initial-state term L_s and the GAN term, with weights (omega_1..omega_6) = (2, 1, 5, 10, 10, 0.1).
Sums run over the window's frames as in eq. 6 and over the parameter dimensions; the batch is averaged."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from thead.systems.facial.params import EXP_START, EYE, POSE


@dataclass(frozen=True)
class FacialWeights:
    exp: float = 2.0  # omega_1
    pose: float = 1.0  # omega_2
    eye: float = 5.0  # omega_3
    state: float = 10.0  # omega_4
    motion: float = 10.0  # omega_5
    gan: float = 0.1  # omega_6


def _group(pred: torch.Tensor, true: torch.Tensor, motion: float) -> torch.Tensor:
    """sum_t V(x_t, x^_t) + motion * sum_t U(...) (eq. 6) for (B, T, K) tensors, mean over the batch."""
    v = (true - pred).pow(2).sum((1, 2))
    u = ((true[:, 1:] - true[:, :-1]) - (pred[:, 1:] - pred[:, :-1])).pow(2).sum((1, 2))
    return (v + motion * u).mean()


def regression_losses(pred: torch.Tensor, true: torch.Tensor, w: FacialWeights) -> dict[str, torch.Tensor]:
    """L_exp, L_pose, L_eye (eq. 6), L_s (eq. 5) and L_Reg (eq. 4) for (B, T, P) parameter windows."""
    out = {"exp": _group(pred[..., EXP_START:], true[..., EXP_START:], w.motion),
           "pose": _group(pred[..., POSE], true[..., POSE], w.motion),
           "eye": _group(pred[..., EYE:EYE + 1], true[..., EYE:EYE + 1], w.motion),
           "state": (pred[:, 0] - true[:, 0]).abs().sum(1).mean()}
    out["reg"] = w.exp * out["exp"] + w.pose * out["pose"] + w.eye * out["eye"] + w.state * out["state"]
    return out


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-(log D(real) + log(1 - D(fake))) (eq. 7), as binary cross-entropy on logits."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """The generator's side of eq. 7 in the non-saturating form, -log D(G(a, s))."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
