"""FACIAL-GAN objective (FACIAL eq. 4-8): per-frame squared L2 terms V and motion terms U for expression, pose and
blink AU, the L1 initial-state term L_s and the GAN term, with weights (omega_1..omega_6) = (2, 1, 5, 10, 10, 0.1).
Sums run over the window's frames as in eq. 6 and over the parameter dimensions; the batch is averaged.

Added (not in FACIAL), off by default: ``L_mouth``, the same V + omega_5 U terms on the 3DMM's 20 ibug mouth
points (48-67) that the expression coefficients move, centred per frame (the shape the mouth LMD measures) and
scaled so that the coefficient that moves them most (ICT ``mouthClose``) moves them by 1. FACIAL's ``L_exp`` weighs
all 53 blendshapes alike, brows and gaze as much as the jaw; lip-landmark losses are what later audio-to-expression
models add (SadTalker's ExpNet, Zhang et al. CVPR 2023). Measured (issue 11 note): with ``w_mouth`` 10, six clips
held out of pretraining showed no gain (mouth error 1.01x a still mouth after 1000 steps against 0.97x without),
so it stays an option."""

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
    mouth: float = 0.0  # L_mouth (not in FACIAL; see the module doc)


def _group(pred: torch.Tensor, true: torch.Tensor, motion: float) -> torch.Tensor:
    """sum_t V(x_t, x^_t) + motion * sum_t U(...) (eq. 6) for (B, T, K) tensors, mean over the batch."""
    v = (true - pred).pow(2).sum((1, 2))
    u = ((true[:, 1:] - true[:, :-1]) - (pred[:, 1:] - pred[:, :-1])).pow(2).sum((1, 2))
    return (v + motion * u).mean()


def mouth_basis(model, n_exp: int):
    """(K, 60) float32: how each of the face model's K expression coefficients moves the 20 ibug mouth points (x, y,
    z), centred on their mean, divided by the largest column norm (so values are unitless, the largest column 1).

    Raises:
        InputError: the model has another number of expression coefficients than the parameters (``n_exp``).
    """
    import numpy as np

    from thead.errors import InputError

    b = np.asarray(model.exp_basis[:, model.landmarks68[48:68]], np.float64)  # (K, 20, 3)
    if len(b) != n_exp:
        raise InputError(f"--w-mouth: the face model has {len(b)} expression coefficients, the parameters {n_exp}")
    b = (b - b.mean(1, keepdims=True)).reshape(len(b), -1)
    return (b / np.linalg.norm(b, axis=1).max()).astype(np.float32)


def regression_losses(pred: torch.Tensor, true: torch.Tensor, w: FacialWeights,
                      mouth: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """L_exp, L_pose, L_eye (eq. 6), L_s (eq. 5) and L_Reg (eq. 4) for (B, T, P) parameter windows; with ``mouth``
    (``mouth_basis``, (K, 60)) and ``w.mouth`` > 0 also L_mouth (see the module doc), added to L_Reg."""
    out = {"exp": _group(pred[..., EXP_START:], true[..., EXP_START:], w.motion),
           "pose": _group(pred[..., POSE], true[..., POSE], w.motion),
           "eye": _group(pred[..., EYE:EYE + 1], true[..., EYE:EYE + 1], w.motion),
           "state": (pred[:, 0] - true[:, 0]).abs().sum(1).mean()}
    out["reg"] = w.exp * out["exp"] + w.pose * out["pose"] + w.eye * out["eye"] + w.state * out["state"]
    if mouth is not None and w.mouth > 0:
        out["mouth"] = _group(pred[..., EXP_START:] @ mouth, true[..., EXP_START:] @ mouth, w.motion)
        out["reg"] = out["reg"] + w.mouth * out["mouth"]
    return out


def d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-(log D(real) + log(1 - D(fake))) (eq. 7), as binary cross-entropy on logits."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """The generator's side of eq. 7 in the non-saturating form, -log D(G(a, s))."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
