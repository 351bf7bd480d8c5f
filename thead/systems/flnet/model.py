"""FLNet networks (paper "Network Structure" and "Implementation"). Images are (B, 3, S, S) in [-1, 1]; S must be a
multiple of 16; the networks are fully convolutional.

Master network E follows GANimation's generator (Pumarola et al. 2018): a 7x7 conv to ``width`` channels, two 4x4
stride-2 convs to 4 x width (FLNet: "reduce the input spatial dimension by a factor of 4 while increasing the number
of channels to 256"), six residual blocks, two 4x4 stride-2 transposed convs back to ``width`` channels (FLNet: 256
-> 64). Instance normalization and ReLU after every conv, spectral normalization on every conv (FLNet). The four
heads are single convs (7x7, as GANimation's colour and attention heads) with spectral normalization.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from thead.systems.flnet.fields import HEAD_RING, PRIORS, tps_flow, warp

VARIANTS = ("full", "appearance-only", "warp-only")
LANDMARKS = 68
# The warp head's pre-tanh output is scaled by this so training starts near the identity warp. The paper says nothing
# of initialization; with spectral norm the head's weights cannot simply start at zero (sigma would be 0), and a
# unit-norm random head gives displacements of ~M/2 px that scramble the bank at step 0.
WARP_INIT_SCALE = 0.1


def _sn_conv(cin: int, cout: int, k: int, s: int = 1, p: int = 0, transpose: bool = False) -> nn.Module:
    cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    return spectral_norm(cls(cin, cout, k, s, p, bias=False))


def _block(cin: int, cout: int, k: int, s: int, p: int, transpose: bool = False) -> nn.Sequential:
    return nn.Sequential(_sn_conv(cin, cout, k, s, p, transpose), nn.InstanceNorm2d(cout, affine=True),
                         nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))) (GANimation's bottleneck block), 3x3 convs with spectral norm."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(_block(ch, ch, 3, 1, 1), _sn_conv(ch, ch, 3, 1, 1),
                                  nn.InstanceNorm2d(ch, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MasterNet(nn.Module):
    """E (FLNet eq. 1): (B, in_ch, S, S) -> shared features I_f (B, width, S, S)."""

    def __init__(self, in_ch: int, width: int = 64, n_res: int = 6):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            _block(in_ch, w, 7, 1, 3), _block(w, 2 * w, 4, 2, 1), _block(2 * w, 4 * w, 4, 2, 1),
            *[ResidualBlock(4 * w) for _ in range(n_res)],
            _block(4 * w, 2 * w, 4, 2, 1, transpose=True), _block(2 * w, w, 4, 2, 1, transpose=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FLNetGenerator(nn.Module):
    """G of FLNet: bank I_s (N images) + landmark difference field Delta F_s -> output I_o (eq. 1-7).

    Variants (paper "Ablation study"): ``full`` (A+W): I_o = (1 - V) I_a + V I_w (eq. 7); ``appearance-only`` (A):
    I_o = I_a; ``warp-only`` (W): I_o = I_w.

    Args:
        bank_size: N.
        width: channels of E's first and last layers (paper 64; the bottleneck has 4 x width).
        margin: warp margin M in px (eq. 3; paper 40 at 224 px).
        prior: ``"none"`` (the paper: the warp fields W_w are the network's alone), ``"tps"`` or ``"tps-head"``
            (thead's default; the spline also moves the head around the face, ``fields.head_ring``): ``forward``
            takes a landmark-driven flow per bank image (``fields.tps_flow``) and the network's ``margin * W_w`` is
            added to it, a learned correction of where the landmarks say the pixels go (see
            ``fields.tps_flow`` for why).
        warped_input: with a prior, E also takes the bank warped by the prior flow alone (3N more input channels;
            not in the paper, thead's): the selection masks and the appearance stream then see each bank image
            where it lands on the target's face shape instead of having to work out the landmarks' displacement
            from the raw bank (see ``expand_for_warped_input`` for starting from a checkpoint without it). Fine-tuning
            the bundled general model for 12 CPU minutes on one person, held-back L1 went from 13.16 to 12.28 with it
            (issue 12 note; ``bench/quality_flnet.py --warped-input``).
    """

    PRIORS = PRIORS

    def __init__(self, bank_size: int = 5, width: int = 64, variant: str = "full", margin: float = 40.0,
                 prior: str = "none", warped_input: bool = False):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if prior not in self.PRIORS:
            raise ValueError(f"prior must be one of {', '.join(self.PRIORS)}, got {prior!r}")
        if warped_input and prior == "none":
            raise ValueError("warped_input needs a warp prior (prior='tps' or 'tps-head')")
        self.prior, self.warped_input = prior, bool(warped_input)
        n, w = bank_size, width
        self.bank_size, self.variant, self.margin = n, variant, float(margin)
        self.master = MasterNet((8 if warped_input else 5) * n, w)
        self.uses_warp = variant in ("full", "warp-only")
        self.uses_appearance = variant in ("full", "appearance-only")
        if self.uses_appearance:
            self.head_a = _sn_conv(w, 3, 7, 1, 3)  # E_a, eq. 5
        if self.uses_warp:
            self.head_wm = _sn_conv(w, n, 7, 1, 3)  # E_wm, eq. 2
            self.head_ww = _sn_conv(w, 2 * n, 7, 1, 3)  # E_ww, eq. 3
        if variant == "full":
            self.head_v = _sn_conv(w, 1, 7, 1, 3)  # E_V, eq. 6

    @property
    def takes_prior_flow(self) -> bool:
        """Whether ``forward`` needs ``prior_flow``: a tps prior, and a warp stream or warped input to use it."""
        return self.prior != "none" and (self.uses_warp or self.warped_input)

    def prior_flow(self, bank_lmk: torch.Tensor, tgt_lmk: torch.Tensor, size: int) -> torch.Tensor | None:
        """What ``forward`` takes as ``prior_flow``: ``fields.tps_flow`` of the bank's (B, N, 68, 2) and the
        targets' (B, 68, 2) landmarks (with ``head_ring`` anchors for ``"tps-head"``) for a tps generator with a
        warp stream or warped input, else None."""
        if not self.takes_prior_flow:
            return None
        return tps_flow(bank_lmk, tgt_lmk, size, ring=HEAD_RING if self.prior == "tps-head" else 0.0)

    def forward(self, bank: torch.Tensor, delta_f: torch.Tensor, prior_flow: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """
        Args:
            bank: (B, N, 3, S, S) in [-1, 1], the source image bank I_s.
            delta_f: (B, 2N, S, S), the landmark difference field (``fields.landmark_difference_field``).
            prior_flow: (B, N, 2, S, S) px, required with a tps prior (``prior_flow``), else ignored.

        Returns:
            dict with ``output`` I_o (B, 3, S, S) in [-1, 1] and, where the variant has them, ``appearance`` I_a
            (B, 3, S, S) in [-1, 1] (tanh), ``masks`` M_w (B, N, S, S) summing to 1 over N (softmax, eq. 2),
            ``fields`` W_w (B, N, 2, S, S) in [-1, 1] (tanh; x M gives px, eq. 3; see ``WARP_INIT_SCALE``),
            ``warped_each`` (B, N, 3, S, S),
            ``warped`` I_w (B, 3, S, S) (eq. 4) and ``merge`` V (B, 1, S, S) in [0, 1] (sigmoid, eq. 6).
        """
        b, n, _, s, _ = bank.shape
        if n != self.bank_size:
            raise ValueError(f"bank has {n} images, the network takes {self.bank_size}")
        if self.takes_prior_flow and prior_flow is None:
            raise ValueError(f"a prior={self.prior!r} generator needs prior_flow (FLNetGenerator.prior_flow)")
        parts = [bank.reshape(b, 3 * n, s, s), delta_f]
        if self.warped_input:
            parts.append(warp(bank.reshape(b * n, 3, s, s), prior_flow.reshape(b * n, 2, s, s)).view(b, 3 * n, s, s))
        feat = self.master(torch.cat(parts, 1))
        out: dict[str, torch.Tensor] = {}
        if self.uses_appearance:
            out["appearance"] = torch.tanh(self.head_a(feat))
        if self.uses_warp:
            masks = torch.softmax(self.head_wm(feat), 1)
            fields = torch.tanh(WARP_INIT_SCALE * self.head_ww(feat)).view(b, n, 2, s, s)
            flow = fields * self.margin
            if self.prior != "none":
                flow = flow + prior_flow
            each = warp(bank.reshape(b * n, 3, s, s), flow.reshape(b * n, 2, s, s))
            each = each.view(b, n, 3, s, s)
            out.update(masks=masks, fields=fields, warped_each=each, warped=(masks[:, :, None] * each).sum(1))
        if self.variant == "full":
            v = torch.sigmoid(self.head_v(feat))
            out["merge"] = v
            out["output"] = (1 - v) * out["appearance"] + v * out["warped"]
        else:
            out["output"] = out["appearance"] if self.variant == "appearance-only" else out["warped"]
        return out


def expand_for_warped_input(state: dict[str, torch.Tensor], bank_size: int) -> dict[str, torch.Tensor]:
    """A generator state dict without ``warped_input`` made loadable into one with it: E's first conv gets 3N more
    input channels with zero weights, so the network computes exactly what it did until training moves them.

    The spectral-norm parametrization's right singular vector ``_v`` (one entry per input weight) is padded with
    zeros too: the zero columns do not change the weight's singular values or vectors.

    Args:
        state: ``FLNetGenerator.state_dict()`` of a ``warped_input=False`` generator.
        bank_size: its N.

    Returns:
        a new dict (``state`` is not changed).

    Raises:
        ValueError: ``state`` is not that of an N-image generator without warped input.
    """
    key = "master.net.0.0.parametrizations.weight"
    w = state.get(f"{key}.original")
    if w is None or w.shape[1] != 5 * bank_size:
        raise ValueError(f"not the state of a {bank_size}-image FLNet generator without warped input")
    out = dict(state)
    extra = 3 * bank_size
    out[f"{key}.original"] = torch.cat([w, w.new_zeros(w.shape[0], extra, *w.shape[2:])], 1)
    v = state[f"{key}.0._v"].view(w.shape[1], -1)
    out[f"{key}.0._v"] = torch.cat([v, v.new_zeros(extra, v.shape[1])]).reshape(-1)
    return out


class PatchDiscriminator(nn.Module):
    """D of FLNet: four 4x4 stride-2 convs with spectral norm, LeakyReLU(0.01) between them (GANimation's slope), no
    normalization; the last conv's (B, 1, S/16, S/16) map is the PatchGAN output (hinge loss, eq. 16)."""

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(3, w, 4, 2, 1)), nn.LeakyReLU(0.01, inplace=True),
            spectral_norm(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.01, inplace=True),
            spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.01, inplace=True),
            spectral_norm(nn.Conv2d(4 * w, 1, 4, 2, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageHistory:
    """History of generated images for the discriminator (Shrivastava et al. 2017, as in CycleGAN's image pool).

    ``query(fakes)`` returns a batch of the same size: while the buffer fills, the new images themselves; then each
    image is, with probability 1/2, swapped for a random stored one (which the new image replaces).
    """

    def __init__(self, capacity: int = 50):
        self.capacity = capacity
        self.images: list[torch.Tensor] = []

    def query(self, fakes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.capacity <= 0:
            return fakes
        out = []
        for img in fakes.detach():
            if len(self.images) < self.capacity:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand((), generator=generator) < 0.5:
                k = int(torch.randint(len(self.images), (), generator=generator))
                out.append(self.images[k].clone())
                self.images[k] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)

    def state(self) -> torch.Tensor:
        return torch.stack(self.images).cpu() if self.images else torch.zeros(0)

    def load(self, t: torch.Tensor, device) -> None:
        self.images = [x.to(device) for x in t] if t.numel() else []
