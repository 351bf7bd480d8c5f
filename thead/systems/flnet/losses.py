"""FLNet objective (eq. 8-17). Norms are taken as means over elements (GANimation's code does the same for its L1
and mask terms) except the total-variation terms, which are sums of squared neighbour differences per image (eq.
9-11), averaged over the batch, as GANimation's smoothness term, whose 1e-5 weight FLNet keeps."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossWeights:
    """(lambda_SV, lambda_TV, lambda_rec, lambda_p, lambda_adv) of eq. 17; paper: (1.0, 1e-5, 250, 1.0, 1.0)."""

    sparsity: float = 1.0
    tv: float = 1e-5
    rec: float = 250.0
    perceptual: float = 1.0
    adv: float = 1.0
    mask_entropy: float = 0.0  # not in FLNet (thead, issue 12): see ``mask_entropy``
    rec_appearance: float = 0.0  # not in FLNet (thead, issue 12): L_rec on I_a alone, see ``generator_losses``


def mask_entropy(masks: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel entropy (nats) of the fetching stream's selection masks M_w (B, N, S, S), which sum to 1 over
    N. Not in the paper: a small weight on it pushes each pixel to copy one bank image instead of averaging several,
    which is what ghosts the eyes when the bank images disagree (issue 12). At weight 1 for 30 CPU minutes from scratch
    (full-5B, LatentSync_demo1_video) held-back L1 was 10.41 and FD-dlib 0.071 against 10.39 and 0.068 without, so
    ``LossWeights.mask_entropy`` defaults to 0."""
    return -(masks * torch.log(masks.clamp_min(1e-6))).sum(1).mean()


def sparsity_loss(v: torch.Tensor) -> torch.Tensor:
    """L_SV = ||V||_1 (eq. 8), as a mean over pixels; V (B, 1, S, S) in [0, 1]."""
    return v.abs().mean()


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """||grad_h x||_2^2 + ||grad_v x||_2^2 (eq. 9-11) for (B, ..., H, W), summed per image, mean over the batch."""
    dh = (x[..., :, 1:] - x[..., :, :-1]).pow(2).sum()
    dv = (x[..., 1:, :] - x[..., :-1, :]).pow(2).sum()
    return (dh + dv) / x.shape[0]


def weighted_l1(x: torch.Tensor, target: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """sum_c ||K (x^c - target^c)||_1 (eq. 12, 13) as a mean over pixels; x, target (B, 3, S, S), K (B, 1, S, S)."""
    return (k * (x - target).abs()).mean() * x.shape[1]


def perceptual_loss(feats_x: list[torch.Tensor], feats_t: list[torch.Tensor]) -> torch.Tensor:
    """||VGG(I_o) - VGG(I_t)||_2^2 (eq. 15) over the chosen layers, mean squared error per layer, summed."""
    return sum((a - b).pow(2).mean() for a, b in zip(feats_x, feats_t))


def d_hinge_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Discriminator side of eq. 16: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(.)))] over PatchGAN maps."""
    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()


def g_hinge_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Generator side of the hinge GAN (Miyato et al. 2018): -E[D(G(.))]."""
    return -d_fake.mean()


def appearance_weight(region: str, k: torch.Tensor, k_raw: torch.Tensor) -> torch.Tensor:
    """The per-pixel weight of ``L_rec_a`` (``generator_losses``): ``k`` (FLNet's heatmap K with its floor, as
    L_rec_w) for ``region="all"``; for ``"background"`` ``1 - k_raw``, with ``k_raw`` K without its floor (gamma **
    distance to the nearest target landmark, ``fields.heatmap_weight(floor=0)``): near 0 on the face, 0.5 at 14 px
    from it, 1 far away. Not in the paper (thead, issue 12): the appearance stream then learns what the bank's warps
    cannot land, the backdrop and hair that move in a face-centred crop in ways the landmarks do not tell, and
    leaves the face to the warps. All (B, 1, S, S) in [0, 1]. At ``lambda_rec_a`` 250 for 27.5 CPU minutes from
    scratch on LatentSync_demo1_video, against the same run without it on the same machine, held-back L1 fell
    (full-5B 10.41 -> 10.05, full-1B 10.32 -> 10.03), all of it outside the face, but FD-dlib rose (5B 0.073 ->
    0.079, 1B 0.074 -> 0.078) and 1B still edged 5B on both, so ``lambda_rec_a`` stays 0 (issue 12 note;
    ``bench/results/flnet_cpu_30min_rec_a_bg250_latentsync1.json``).

    Raises:
        ValueError: another region.
    """
    if region == "all":
        return k
    if region == "background":
        return 1 - k_raw
    raise ValueError(f"unknown appearance reconstruction region {region!r} (all or background)")


def generator_losses(out: dict[str, torch.Tensor], target: torch.Tensor, k: torch.Tensor, w: LossWeights,
                     feats_out=None, feats_target=None, d_fake=None, k_appearance: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """The generator's total loss (eq. 17) for whatever heads ``out`` has (a variant without a head has no term
    for it; ``warp-only`` has I_o = I_w, so L_rec_w and L_rec_o are one term counted once).

    Optional departure from the paper (thead, issue 12; off by default): with ``w.rec_appearance`` > 0 the full variant
    also gets ``rec_appearance x L_rec_a``, eq. 13 applied to the appearance stream I_a as the paper applies it to I_w.
    In eq. 17 I_a learns only through (1 - V) I_a, and once the warps beat a young appearance stream V saturates and
    I_a gets no gradient: after 30 CPU minutes from scratch the full-5B model had V 0.99 on the face and 0.98 elsewhere
    and I_a at L1 50 (0-255), so A+W ran as warp-only. With 250 (the weight of L_rec_w) on LatentSync_demo1_video,
    V fell to 0.41 on the face and 0.14 elsewhere and I_a alone reached L1 10.7, but held-back L1 stayed where it was
    (full-5B 10.37 against 10.39; full-1B 10.18 against 10.20) and FD-dlib rose (5B 0.073 against 0.068, 1B 0.080
    against 0.066), so it stays off (issue 12 note). ``k_appearance`` (default ``k``) is that term's pixel weight
    (``appearance_weight``).

    The paper's eq. 17 lists L_TV_wm twice (``L_TV_V + L_TV_wm + 0.1 x L_TV_wm``); thead reads the second as the
    warp-field term L_TV_ww of eq. 11, the only TV term otherwise missing.

    Returns:
        the loss and a dict of its (unweighted) terms for logging.
    """
    terms: dict[str, torch.Tensor] = {"rec_o": weighted_l1(out["output"], target, k)}
    total = w.rec * terms["rec_o"]
    if "appearance" in out and "warped" in out:
        terms["rec_w"] = weighted_l1(out["warped"], target, k)
        total = total + w.rec * terms["rec_w"]
        if w.rec_appearance:
            terms["rec_a"] = weighted_l1(out["appearance"], target, k if k_appearance is None else k_appearance)
            total = total + w.rec_appearance * terms["rec_a"]
    if "merge" in out:
        terms["sparsity_v"] = sparsity_loss(out["merge"])
        terms["tv_v"] = tv_loss(out["merge"])
        total = total + w.sparsity * terms["sparsity_v"] + w.tv * terms["tv_v"]
    if "masks" in out:
        terms["tv_wm"] = tv_loss(out["masks"])
        terms["tv_ww"] = tv_loss(out["fields"])
        total = total + w.tv * (terms["tv_wm"] + 0.1 * terms["tv_ww"])
        if w.mask_entropy:
            terms["mask_entropy"] = mask_entropy(out["masks"])
            total = total + w.mask_entropy * terms["mask_entropy"]
    if feats_out is not None:
        terms["perceptual"] = perceptual_loss(feats_out, feats_target)
        total = total + w.perceptual * terms["perceptual"]
    if d_fake is not None:
        terms["adv_g"] = g_hinge_loss(d_fake)
        total = total + w.adv * terms["adv_g"]
    logs = {k_: float(v.detach()) for k_, v in terms.items()}
    logs["g"] = float(total.detach())
    return total, logs
