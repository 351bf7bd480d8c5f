"""GATH networks (paper section 4.1, Fig. 3). All take 100x100 RGB in [-1, 1], shape (B, 3, 100, 100).

The paper gives the block structure but not every width or kernel; thead's choices (in the style of StarGAN /
CycleGAN generators, which GATH's figure resembles) are stated per class.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


IMAGE_SIZE = 100  # px, GATH section 4.1


NORMS = ("batch", "instance")


def _norm(ch: int, norm: str = "batch") -> nn.Module:
    """BatchNorm (GATH's blocks) or InstanceNorm with learned affine (StarGAN / GANimation generators)."""
    return nn.BatchNorm2d(ch) if norm == "batch" else nn.InstanceNorm2d(ch, affine=True)


def _enc_block(cin: int, cout: int, k: int, s: int, p: int, norm: str = "batch") -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), _norm(cout, norm), nn.LeakyReLU(0.1))


class ResBlock(nn.Module):
    """conv-norm-LeakyReLU-conv-norm plus identity (He et al. 2016); norm as ``_norm``."""

    def __init__(self, ch: int, norm: str = "batch"):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _norm(ch, norm), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _norm(ch, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G = decoder(encoder(x_src), e_tgt) (GATH eq. 1, Fig. 3a).

    Encoder: four conv-BN-LeakyReLU(0.1) blocks: 3->64 (7x7, s1), 64->128 (4x4, s2), 128->256 (4x4, s2),
    256->256 (3x3, s1): 100 -> 100 -> 50 -> 25 -> 25 px. The AU vector (A,) is broadcast to (A, 25, 25) and
    concatenated. Decoder: a conv block (256+A -> 256, 3x3), six ResNet blocks, the encoder output added at the end
    of the bottleneck (the paper's residual connection), two transposed-conv blocks (256->128->64, 4x4, s2:
    25 -> 50 -> 100), a 7x7 output conv to 3 channels and tanh.

    Args:
        n_au: length A of the AU coefficient vector (ICT blendshapes: 53; the paper's FaceWarehouse: 46).
        width: channels of the first block (64 in the description above).
        upsample: ``"transposed"`` (the paper's 4x4 stride-2 transposed convs) or ``"resize"`` (nearest-neighbour
            x2 then a 3x3 conv; thead's default). Departure: a transposed conv gives each output phase its own
            kernel taps, so unless training makes them agree it prints a checkerboard (Odena et al. 2016,
            "Deconvolution and checkerboard artifacts", seen even with evenly overlapping 4x4 stride-2 kernels);
            a short CPU training does not -- the demo's neutralized face was one. Resize-convolution cannot
            produce it.
        output: ``"direct"`` (the paper: the image is the tanh of the last conv) or ``"attention"`` (thead's
            default; GANimation, Pumarola et al. 2018, eq. 1 there): the last layer gives a colour image C and an
            attention map A in [0, 1], and the output is ``A * x_src + (1 - A) * C``. Departure: where nothing
            needs to change the input's own pixels pass through, so the face stays sharp and itself from the first
            steps, and the few minutes of a CPU budget go into the regions the expression moves (mouth, brows,
            eyes) instead of into re-learning the whole face. ``last_attention`` holds A for its loss and views.
            ``"residual"`` (experimental, not the default): as ``"attention"``, but the colour image
            is a correction of the input, ``C = clip(x_src + D, -1, 1)``, with the last conv D started near zero
            (weights x 0.1, bias 0), so an untrained G returns its input. Departure from GANimation's ``tanh``
            colour image: that one starts as noise around mid-grey and takes hundreds of steps to learn skin
            colour, so wherever A < 1 an early model tinted the face (the 100-step demo's neutralized face had red
            blotches where A was 0.9); a correction starts at the input's own colours and only has to learn what
            the expression changes. Measured with ``norm="instance"`` in the 60-minute CPU bench (issue 13):
            neutralize drop 0.71, smile gain 0.97, identity 0.38, but a bright band along the top of the forehead
            and coloured fringes at the silhouette on most test portraits, worse than the default's; kept as an
            option, not the default.
        flow_basis: ``None`` (the paper) or (A, 2, 100, 100) pixel displacements per unit coefficient in the
            frontal crop (``Frontalizer.expression_flow_basis``: the 3DMM's expression blendshapes seen in the
            frontalization's reference view). With it G first warps the source by the 3DMM's expression change,
            ``x_w(q) = x_src(q + sum_k (e_src - e_tgt)_k basis_k(q))`` (bilinear, ``warp``), and encodes,
            decodes and passes through (attention) x_w instead of x_src; ``forward`` then needs e_src. Departure
            (thead's default, ``TrainConfig.warp="3dmm"``), after warp-guided face reenactment (Averbuch-Elor et
            al. 2017, "Bringing portraits to life"; Geng et al. 2018, "Warp-guided GANs"): GATH's generator must
            learn from pixels alone that lip corners move up for AU12 and the chin down for AU26, which a CPU
            budget did not teach it (measured: ``--au zeros`` dropped AU12+25+26 by -1%, issue 13); the 3DMM
            already knows where every point of the face goes for each coefficient, so the geometry comes from
            the model and G learns what no warp can give (teeth, the inside of the mouth, shading, seams). The
            basis is a buffer: it travels in the checkpoint. ``last_warped`` holds x_w.

        norm: ``"batch"`` (the paper's conv-BN-LeakyReLU blocks; the default) or ``"instance"`` (InstanceNorm with
            learned affine, as the StarGAN and GANimation generators; experimental). Why: a BatchNorm generator
            decodes one portrait at synthesis with running statistics gathered over training batches, and a
            portrait unlike the training crops (studio light, white background) then falls outside them: the
            100-step demo model shifted the mean colour of such a portrait by (+23, -45, -39) RGB in eval mode and
            by (+3, -7, -6) in train mode, while training crops moved by under 1 (issue 13: the demo's red face).
            Instance statistics are the same in training and at synthesis. Not the default: see ``output``
            for what it measured with the residual output in the 60-minute bench.

    Raises:
        ValueError: unknown ``upsample``, ``output`` or ``norm``, or a basis of the wrong shape.
    """

    UPSAMPLE = ("transposed", "resize")
    OUTPUT = ("direct", "attention", "residual")

    def __init__(self, n_au: int, width: int = 64, upsample: str = "transposed", output: str = "direct",
                 flow_basis: torch.Tensor | None = None, norm: str = "batch"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.norm = norm
        if upsample not in self.UPSAMPLE:
            raise ValueError(f"upsample must be one of {', '.join(self.UPSAMPLE)}, got {upsample!r}")
        if output not in self.OUTPUT:
            raise ValueError(f"output must be one of {', '.join(self.OUTPUT)}, got {output!r}")
        self.output = output
        w = width
        self.n_au = n_au
        self.upsample = upsample
        self.encoder = nn.Sequential(_enc_block(3, w, 7, 1, 3, norm), _enc_block(w, 2 * w, 4, 2, 1, norm),
                                     _enc_block(2 * w, 4 * w, 4, 2, 1, norm), _enc_block(4 * w, 4 * w, 3, 1, 1, norm))
        self.fuse = _enc_block(4 * w + n_au, 4 * w, 3, 1, 1, norm)
        self.res = nn.Sequential(*[ResBlock(4 * w, norm) for _ in range(6)])
        if upsample == "transposed":
            ups = [nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), _norm(2 * w, norm), nn.LeakyReLU(0.1),
                   nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), _norm(w, norm), nn.LeakyReLU(0.1)]
        else:
            ups = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * w, 2 * w, 3, 1, 1, bias=False),
                   _norm(2 * w, norm), nn.LeakyReLU(0.1),
                   nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, w, 3, 1, 1, bias=False),
                   _norm(w, norm), nn.LeakyReLU(0.1)]
        self.up = nn.Sequential(*ups)
        self.out = nn.Conv2d(w, 3, 7, 1, 3)
        self.att = nn.Conv2d(w, 1, 7, 1, 3) if output in ("attention", "residual") else None
        if output == "residual":  # start as the identity: a small correction of the input's colours
            with torch.no_grad():
                self.out.weight.mul_(0.1)
                self.out.bias.zero_()
        self.last_attention: torch.Tensor | None = None
        self.last_warped: torch.Tensor | None = None
        if flow_basis is not None:
            flow_basis = torch.as_tensor(flow_basis, dtype=torch.float32)
            if flow_basis.shape[:2] != (n_au, 2) or flow_basis.dim() != 4:
                raise ValueError(f"flow_basis must be ({n_au}, 2, H, W), got {tuple(flow_basis.shape)}")
            if self.att is not None:  # start by passing the warped source through (sigmoid(2) = 0.88)
                nn.init.constant_(self.att.bias, 2.0)
        self.register_buffer("flow_basis", flow_basis)

    @property
    def warps(self) -> bool:
        """True when G warps its input by the 3DMM expression flow (``flow_basis`` given)."""
        return self.flow_basis is not None

    def warp(self, x: torch.Tensor, au: torch.Tensor, au_src: torch.Tensor) -> torch.Tensor:
        """Source images (B, 3, H, W) with expression ``au_src`` (B, A) -> the same images moved to expression
        ``au`` (B, A) by the 3DMM flow: bilinear, borders replicated. Raises ValueError without a basis."""
        if self.flow_basis is None:
            raise ValueError("this generator has no expression flow basis")
        B, _, H, W = x.shape
        flow = torch.einsum("bk,kchw->bchw", (au_src - au).to(x.dtype), self.flow_basis)  # px
        ys, xs = torch.meshgrid(torch.arange(H, dtype=x.dtype, device=x.device),
                                torch.arange(W, dtype=x.dtype, device=x.device), indexing="ij")
        gx = (xs + flow[:, 0]) * (2.0 / (W - 1)) - 1.0
        gy = (ys + flow[:, 1]) * (2.0 / (H - 1)) - 1.0
        return F.grid_sample(x, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="border",
                             align_corners=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 100, 100) -> identity code (B, 4w, 25, 25)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor, au: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """identity code and AU vectors (B, A) in [0, 1] -> image (B, 3, 100, 100) in [-1, 1]. ``x`` (the source
        image, broadcast over the batch) is required with ``output="attention"`` or ``"residual"``; the map A
        used is kept in ``last_attention`` (B, 1, 100, 100)."""
        a = au[:, :, None, None].expand(-1, -1, code.shape[2], code.shape[3])
        h = self.up(self.res(self.fuse(torch.cat([code, a], 1))) + code)
        if self.att is None:
            return torch.tanh(self.out(h))
        if x is None:
            raise ValueError("an attention generator needs the source image to decode")
        if self.output == "residual":
            color = torch.clamp(x + self.out(h), -1.0, 1.0)
        else:
            color = torch.tanh(self.out(h))
        att = torch.sigmoid(self.att(h))
        self.last_attention = att
        return att * x + (1 - att) * color

    def forward(self, x: torch.Tensor, au: torch.Tensor, au_src: torch.Tensor | None = None) -> torch.Tensor:
        """G(x_src, e_tgt): (B, 3, 100, 100) in [-1, 1] and (B, A) in [0, 1] -> (B, 3, 100, 100) in [-1, 1].
        With a flow basis ``au_src`` (B, A), the source's own coefficients, is required (ValueError)."""
        if self.flow_basis is not None:
            if au_src is None:
                raise ValueError("a warping generator needs the source's own coefficients (au_src)")
            x = self.warp(x, au, au_src)
            self.last_warped = x
        return self.decode(self.encode(x), au, x)


class DiscriminatorClassifier(nn.Module):
    """D and C sharing every hidden layer (GATH Fig. 3b), separate output layers.

    Trunk: four 4x4 stride-2 convs with LeakyReLU(0.2) (64, 128, 256, 512 channels; 100 -> 50 -> 25 -> 12 -> 6 px).
    D head: 3x3 conv to one channel, a 6x6 PatchGAN map of least-squares scores (no sigmoid). C head: a 6x6 conv
    over the whole map to ``n_classes`` identity logits.
    """

    def __init__(self, n_classes: int, width: int = 64):
        super().__init__()
        w = width
        layers, cin = [], 3
        for cout in (w, 2 * w, 4 * w, 8 * w):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.d_head = nn.Conv2d(cin, 1, 3, 1, 1)
        # n_classes == 0: a discriminator alone (the GATH-C baseline)
        self.c_head = nn.Conv2d(cin, n_classes, 6, 1, 0) if n_classes > 0 else None
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> D scores (B, 1, 6, 6) and class logits (B, n_classes)."""
        h = self.trunk(x)
        logits = self.c_head(h).flatten(1) if self.c_head is not None else h.new_zeros(len(x), 0)
        return self.d_head(h), logits


class AUEstimator(nn.Module):
    """E: image -> AU coefficients (GATH section 3.2, Fig. 3c), VGG-9-like: six 3x3 convs (conv1_1..conv3_2,
    64/64/128/128/256/256 channels, ReLU, 2x2 max-pool after conv1_2 and conv2_2) and three fully connected layers
    after an adaptive 3x3 average pool (which gives the translation/scale tolerance the paper asks of f_au's
    consumer). Output: sigmoid, (B, A) in [0, 1]. ``features(x)`` is f_au: conv3_2's activations, (B, 256, 25, 25).

    Args:
        norm: ``"batch"`` (thead's default: BatchNorm after every conv but conv3_2, whose raw output stays f_au) or
            ``"none"`` (the VGG of the paper's figure). Departure, measured: without normalization, 400-700 CPU
            steps (lr 1e-4) leave E predicting the training set's mean -- loss flat from step ~70, within-video
            correlation with the jawOpen labels -0.3 on its own training frames -- and at lr 1e-3 its outputs
            collapse to a constant; GATH's eq. 4 and the expression loss then have nothing to pull the mouth with.
            With BatchNorm and lr 1e-3, 400 steps (130 s on 2 cores) reach r 0.46 on jawOpen (0.30 within a
            video) and 0.42 (0.38) on mouthSmile_L.

    Raises:
        ValueError: unknown ``norm``.
    """

    NORMS = ("batch", "none")

    def __init__(self, n_au: int, width: int = 64, norm: str = "none"):
        super().__init__()
        if norm not in self.NORMS:
            raise ValueError(f"norm must be one of {', '.join(self.NORMS)}, got {norm!r}")
        w = width
        self.norm = norm

        def conv(cin, cout):
            if norm == "batch":
                return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
            return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.ReLU())

        self.block1 = nn.Sequential(conv(3, w), conv(w, w), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(conv(w, 2 * w), conv(2 * w, 2 * w), nn.MaxPool2d(2))
        self.conv3_1 = conv(2 * w, 4 * w)
        self.conv3_2 = nn.Conv2d(4 * w, 4 * w, 3, 1, 1)
        head = [nn.BatchNorm2d(4 * w)] if norm == "batch" else []
        self.head = nn.Sequential(*head, nn.ReLU(), nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(4 * w * 9, 512),
                                  nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, n_au))
        self.n_au = n_au

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """f_au (GATH eq. 4): conv3_2 pre-activation features, (B, 256, 25, 25)."""
        return self.conv3_2(self.conv3_1(self.block2(self.block1(x))))

    def head_from_features(self, f: torch.Tensor) -> torch.Tensor:
        """AU coefficients (B, A) in [0, 1] from f_au (B, 256, 25, 25): the rest of ``forward``."""
        return torch.sigmoid(self.head(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_from_features(self.features(x))


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


