"""GATH losses (paper section 3.3). Images in [-1, 1], shape (B, 3, H, W).

The paper writes squared/absolute norms as sums; thead averages over elements (and batch) so the paper's weights
(lambda_rec = lambda_tv = 1, lambda_adv = lambda_cls = 0.05) balance terms independently of image and feature size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def au_loss(f_target: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """GATH eq. 4: || f_au(y_tgt) - f_au(G(x_src, e_tgt)) ||^2, mean over elements (and batch)."""
    return au_loss_per_sample(f_target, f_fake, "mean").mean()


AU_NORMS = ("relative", "sum", "mean")


def au_loss_per_sample(f_target: torch.Tensor, f_fake: torch.Tensor, norm: str = "relative") -> torch.Tensor:
    """GATH eq. 4 per sample, (B,): ``"sum"`` as the paper writes it (sum of squared feature differences),
    ``"mean"`` over elements, or ``"relative"`` (thead's default): the sum divided by the target's own feature
    energy ||f_au(y_tgt)||^2, so that eq. 4's balance against eq. 5 does not depend on the AU estimator's scale.

    Raises:
        ValueError: unknown ``norm``.
    """
    d = ((f_target - f_fake) ** 2).flatten(1)
    if norm == "sum":
        return d.sum(1)
    if norm == "mean":
        return d.mean(1)
    if norm == "relative":
        return d.sum(1) / (f_target ** 2).flatten(1).sum(1).clamp(min=1e-8)
    raise ValueError(f"eq. 4 normalization must be one of {', '.join(AU_NORMS)}, got {norm!r}")


def reconstruction_loss(x_src: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
    """GATH eq. 5: || x_src - G(x_src, e_tgt) ||_1, mean over elements."""
    return (x_src - x_fake).abs().mean()


def d_adversarial_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """GATH eq. 6/9, discriminator side (least squares, Mao et al. 2017): (1 - D(x_re))^2 + D(G(.))^2."""
    return ((1 - d_real) ** 2).mean() + (d_fake**2).mean()


def g_adversarial_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """GATH eq. 6/10, generator side: (1 - D(G(.)))^2, the least-squares GAN generator objective.

    Eq. 10 prints ``- lambda_adv D(G)^2``; maximising eq. 6 over G is what LSGAN implements as minimising
    (1 - D(G))^2, which is what thead does.
    """
    return ((1 - d_fake) ** 2).mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """GATH eq. 7: cross-entropy of identity logits (B, K) against labels (B,)."""
    return F.cross_entropy(logits, labels)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """GATH eq. 8: squared differences between horizontal and vertical neighbours, mean over pixels and batch."""
    dh = (x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2
    dv = (x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2
    return dh.mean() + dv.mean()


def expression_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Conditional expression loss (GANimation, Pumarola et al. 2018, eq. 4 there; not in GATH):
    || E(G(x_src, e_tgt)) - e_tgt ||^2, per-sample sum over the A coefficients (B, A), mean over the batch."""
    return ((pred - target) ** 2).sum(1).mean()


def aue_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """GATH eq. 2: || e_gt - E(x) ||^2, mean over the batch of the per-sample squared error sum."""
    return ((pred - target) ** 2).sum(1).mean()
