"""Feature networks for FLNet's perceptual loss (eq. 15).

FLNet uses VGG16 (Johnson et al. 2016) at relu1_2, relu2_2, relu3_3 and relu4_3. thead cannot download weights, so
``VGG16Features`` takes a local file holding torchvision's VGG16 state dict (``features.N.weight`` keys; the
classifier's keys are ignored). Without that file the term is kept, computed on a face network thead trains itself:
``FaceNetFeatures`` over GATH's AU-estimator architecture (a VGG-like 6-conv network), either a ``train aue``
checkpoint the user gives, or one trained at the start of ``train flnet`` to regress the 68 landmarks of the
training crops (``train_face_net``), at relu1_2, relu2_2, relu3_1 and relu3_2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from thead.errors import InputError

VGG16_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21)  # conv indices of torchvision's vgg16().features up to relu4_3
VGG16_TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACE_NET_SYSTEMS = ("aue", "face-net")


class VGG16Features(nn.Module):
    """VGG16 (torchvision layout) up to relu4_3, frozen. Input (B, 3, H, W) in [-1, 1]; output the four relu maps."""

    def __init__(self, weights: Optional[Path] = None):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, c in enumerate((64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)):
            if c == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, c, 3, 1, 1), nn.ReLU(inplace=False)]
                cin = c
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        if weights is not None:
            self.load_torchvision(weights)
        self.eval().requires_grad_(False)

    def load_torchvision(self, path: Path) -> None:
        """Load torchvision's VGG16 state dict (``weights_only``).

        Raises:
            InputError: missing file, not a weights-only state dict, or keys/shapes that are not VGG16's.
        """
        from thead.train.checkpoint import load_weights_file

        sd = load_weights_file(path, "--vgg-weights")
        mine = {f"features.{i}.{p}" for i in VGG16_CONVS for p in ("weight", "bias")}
        missing = sorted(mine - set(sd))
        if missing:
            raise InputError(f"--vgg-weights {path}: not torchvision's VGG16 state dict (missing {missing[0]} ...)")
        try:
            self.load_state_dict({k: sd[k] for k in mine} | {"mean": self.mean, "std": self.std})
        except RuntimeError as e:
            raise InputError(f"--vgg-weights {path}: shapes do not match VGG16 ({str(e).splitlines()[-1].strip()})") \
                from None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((x + 1) / 2 - self.mean) / self.std
        outs = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG16_TAPS:
                outs.append(h)
                if i == VGG16_TAPS[-1]:
                    break
        return outs


class FaceNetFeatures(nn.Module):
    """A thead-trained face network (GATH's AU-estimator architecture) as a perceptual backbone, frozen.

    Input (B, 3, H, W) in [-1, 1]; output relu1_2, relu2_2, relu3_1 and relu3_2.
    """

    def __init__(self, net):
        super().__init__()
        self.net = net.eval().requires_grad_(False)

    @classmethod
    def from_checkpoint(cls, path: Path) -> "FaceNetFeatures":
        """Raises InputError for a checkpoint that is not a ``train aue`` or face-net checkpoint."""
        from thead.systems.gath.model import AUEstimator
        from thead.train.checkpoint import load_checkpoint

        blob = load_checkpoint(path)
        cfg = blob["config"]
        if cfg.get("system") not in FACE_NET_SYSTEMS:
            raise InputError(f"{path}: not a face-network checkpoint (system {cfg.get('system')!r}; expected a "
                             "'thead train aue' checkpoint)")
        net = AUEstimator(int(cfg["n_au"]), int(cfg["width"]))
        net.load_state_dict(blob["models"]["aue"] if "aue" in blob["models"] else blob["models"]["face_net"])
        return cls(net)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        n = self.net
        r12 = n.block1[1](n.block1[0](x))
        r22 = n.block2[1](n.block2[0](n.block1[2](r12)))
        r31 = n.conv3_1(n.block2[2](r22))
        return [r12, r22, r31, torch.relu(n.conv3_2(r31))]


def train_face_net(images: torch.Tensor, landmarks: torch.Tensor, out: Path, steps: int = 300, batch_size: int = 16,
                   width: int = 32, lr: float = 1e-4, device="cpu", seed: int = 0,
                   on_step: Optional[Callable[[int, float], None]] = None) -> Path:
    """Train the AU-estimator architecture to regress the 68 landmarks of face crops (a face network for the
    perceptual loss when no VGG16 weights are given).

    Args:
        images: (M, 3, S, S) uint8 crops.
        landmarks: (M, 68, 2) crop px (finite).
        out: checkpoint path (``system: face-net``).

    Returns:
        ``out``.
    """
    from thead.systems.gath.model import AUEstimator
    from thead.train.checkpoint import save_checkpoint
    from thead.train.images import to_model_range

    gen = torch.Generator().manual_seed(seed)
    s = images.shape[-1]
    y = (landmarks.reshape(len(landmarks), -1) / (s - 1)).clamp(0, 1).float()
    net = AUEstimator(y.shape[1], width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for step in range(1, steps + 1):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        x = to_model_range(images[idx]).to(device)
        loss = (net(x) - y[idx].to(device)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step, float(loss.detach()))
    cfg = dict(system="face-net", n_au=int(y.shape[1]), width=width, steps=steps, size=s,
               task="68-landmark regression on the training crops (x, y / (S - 1))")
    return save_checkpoint(Path(out), models={"face_net": net}, optimizers={}, step=steps, config=cfg)


def choose_perceptual(vgg_weights, face_net, run_dir: Path, training_crops: Callable[[], tuple], steps: int,
                      width: int, d, say: Callable[[str], None], seed: int = 0, loss_name: str = "perceptual loss"
                      ) -> tuple[nn.Module, str]:
    """The perceptual network of a run, said at start: VGG16 from ``vgg_weights``; else the face network
    ``face_net`` (a ``train aue`` checkpoint); else one trained now on ``training_crops()`` -> (uint8 (M, 3, S, S),
    landmarks (M, 68, 2)) and kept as ``run_dir/face_net.pt`` (reused on resume). ``d``: ``thead.train.dist.Dist``.

    Returns:
        (frozen network, a name for the run's config).
    """
    if vgg_weights is not None:
        return VGG16Features(vgg_weights), f"vgg16:{vgg_weights}"
    if face_net is not None:
        say(f"note: {loss_name} on the face network {face_net} instead of VGG16 (no --vgg-weights given)")
        return FaceNetFeatures.from_checkpoint(face_net), f"face-net:{face_net}"
    path = Path(run_dir) / "face_net.pt"
    if d.is_main and not path.exists():
        say(f"note: no --vgg-weights given; the {loss_name} uses a face network thead trains now ({steps} steps "
            f"regressing the 68 landmarks of the training crops) -> {path}")
        imgs, lmk = training_crops()
        train_face_net(imgs, lmk, path, steps=steps, batch_size=min(16, len(imgs)), width=width, device=d.device,
                       seed=seed)
    elif d.is_main:
        say(f"note: {loss_name} on the run's own face network {path} (no --vgg-weights given)")
    if d.world_size > 1:
        torch.distributed.barrier()
    return FaceNetFeatures.from_checkpoint(path), f"face-net:{path.name}"


def build_perceptual(vgg_weights: Optional[Path] = None, face_net: Optional[Path] = None) -> nn.Module:
    """VGG16 from ``vgg_weights`` when given, else the face network checkpoint ``face_net``.

    Raises:
        InputError: neither given, or a bad file.
    """
    if vgg_weights is not None:
        return VGG16Features(vgg_weights)
    if face_net is not None:
        return FaceNetFeatures.from_checkpoint(face_net)
    raise InputError("the perceptual loss needs --vgg-weights or a face-network checkpoint")
