"""Feature networks for the perceptual losses of FLNet (eq. 15) and FACIAL (eq. 10), and the identity embedding.

FLNet and FACIAL use VGG16 (Johnson et al. 2016) at relu1_2, relu2_2, relu3_3 and relu4_3. thead cannot download
weights, so ``VGG16Features`` takes a local file holding torchvision's VGG16 state dict (``features.N.weight`` keys;
the classifier's keys are ignored). Without that file the term is computed on an offline pretrained face network
that ships with thead's dependencies: dlib's face-recognition ResNet (``thead.face.facenet``; ``DlibFaceFeatures``),
at its stem and after its first three residual stages (35, 35, 17 and 8 px maps of a 150 px face). A user's own
``train aue`` checkpoint can still be given instead (``FaceNetFeatures``). The same ResNet's 128-D descriptor is the
identity term (``identity_loss``), whichever network gives the perceptual features.
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
        from thead.weights import load_weights_file

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


class DlibFaceFeatures(nn.Module):
    """dlib's face-recognition ResNet (``thead.face.facenet``) as a perceptual backbone and identity embedding,
    frozen. Input (B, 3, H, W) in [-1, 1], resized to the network's 150 px (bilinear); ``forward`` returns the stem
    and the first three stages' maps, ``embed`` the (B, 128) descriptors, ``features_and_embedding`` both from one
    pass."""

    def __init__(self, net=None):
        super().__init__()
        if net is None:
            from thead.face.facenet import load_face_net

            net = load_face_net()
        self.net = net.eval().requires_grad_(False)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        from thead.face.facenet import CHIP_SIZE

        if x.shape[-1] != CHIP_SIZE or x.shape[-2] != CHIP_SIZE:
            x = torch.nn.functional.interpolate(x, size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear", align_corners=False)
        return (x + 1) * 127.5

    def features_and_embedding(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        feats = self.net.features(self._prepare(x))
        return feats[:4], self.net.fc(feats[-1].mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.features_and_embedding(x)[0]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_embedding(x)[1]


def identity_loss(emb_x: torch.Tensor, emb_t: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance of dlib face descriptors (B, 128): the quantity dlib thresholds at 0.6 for "same
    person". Not in FLNet or FACIAL; thead adds it so that short CPU trainings keep the person (issue 11)."""
    return (emb_x - emb_t).pow(2).sum(1).add(1e-8).sqrt().mean()


def identity_network(perc: nn.Module, lambda_id: float, device) -> Optional["DlibFaceFeatures"]:
    """The network of a trainer's identity term: ``perc`` itself when it is dlib's ResNet (one pass then gives the
    perceptual maps and the descriptor), else a frozen dlib ResNet of its own; None when ``lambda_id`` is 0."""
    if not lambda_id:
        return None
    return perc if isinstance(perc, DlibFaceFeatures) else DlibFaceFeatures().to(device)


def perceptual_and_identity(perc: nn.Module, ident: Optional["DlibFaceFeatures"], fake: torch.Tensor,
                            real: torch.Tensor) -> tuple[list, list, Optional[torch.Tensor]]:
    """(perceptual maps of ``fake``, of ``real`` (no gradient), ``identity_loss`` of their descriptors in float32 or
    None without ``ident``) for images (B, 3, H, W) in [-1, 1]; one ResNet pass per image batch when ``ident`` is
    ``perc``."""
    if ident is perc:
        with torch.no_grad():
            f_real, e_real = perc.features_and_embedding(real)
        f_fake, e_fake = perc.features_and_embedding(fake)
    else:
        with torch.no_grad():
            f_real = perc(real)
            e_real = ident.embed(real) if ident is not None else None
        f_fake = perc(fake)
        e_fake = ident.embed(fake) if ident is not None else None
    return f_fake, f_real, (identity_loss(e_fake.float(), e_real.float()) if ident is not None else None)


def choose_perceptual(vgg_weights, face_net, say: Callable[[str], None], loss_name: str = "perceptual loss"
                      ) -> tuple[nn.Module, str]:
    """The perceptual network of a run, said at start: VGG16 from ``vgg_weights`` (or, without ``face_net``, the
    VGG16 in thead's weights cache, ``thead weights download vgg16``); else the ``train aue`` checkpoint
    ``face_net``; else dlib's face-recognition ResNet (always available offline).

    Returns:
        (frozen network, a name for the run's config).
    """
    from thead import zoo

    vgg_weights = zoo.find("vgg16", vgg_weights, say) if face_net is None else vgg_weights
    if vgg_weights is not None:
        return VGG16Features(vgg_weights), f"vgg16:{vgg_weights}"
    if face_net is not None:
        say(f"note: {loss_name} on the face network {face_net} instead of VGG16 (no --vgg-weights given)")
        return FaceNetFeatures.from_checkpoint(face_net), f"face-net:{face_net}"
    say(f"note: no --vgg-weights given; the {loss_name} uses dlib's pretrained face-recognition ResNet "
        f"(face_recognition_models) instead of VGG16")
    return DlibFaceFeatures(), "dlib-face-resnet"
