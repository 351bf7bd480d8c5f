"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) in torch, its weights read from the
file ``face_recognition_models`` ships.

The network is dlib's ``anet_type`` (dlib's ``dnn_face_recognition_ex.cpp``; King, "High Quality Face Recognition
with Deep Metric Learning", dlib blog 2017): a 29-layer ResNet on 150x150 RGB face chips, giving a 128-D descriptor
whose Euclidean distance is below 0.6 for the same person. It is the offline pretrained face network thead uses
wherever no VGG16 file is given (identity and perceptual terms) and the embedding ``evaluate`` scores identity with.

Layout (forward order)::

    input (x - [avg_red, avg_green, avg_blue]) / 256            (values read from the file)
    conv 7x7/2 (32) - affine - relu - max-pool 3x3/2
    level4: 3 x residual(32)
    level3: residual_down(64), 3 x residual(64)
    level2: residual_down(128), 2 x residual(128)
    level1: residual_down(256), 2 x residual(256)
    level0: residual_down(256)
    global average pool - fully connected 256 -> 128 (no bias)

    residual(N):      relu(x + affine(conv3x3(relu(affine(conv3x3(x))))))
    residual_down(N): relu(avgpool2x2/2(x) + affine(conv3x3(relu(affine(conv3x3/2(x))))))

dlib adds tensors of different shapes by zero-padding the smaller one at the end of each axis (extra channels and
the last row/column), which ``_add`` reproduces; its stride-2 layers have no padding, its stride-1 convs pad by 1.
"affine" is dlib's frozen batch norm: a per-channel scale and shift.

The ``.dat`` file is dlib's own serialization (``dlib/serialize.h``, ``dlib/dnn/core.h``): integers as a control
byte (length in the low 4 bits, 0x80 for negative) plus little-endian bytes, strings as length + bytes, booleans as
the characters '0'/'1', floats as (mantissa, exponent) integer pairs, tensors as 4 dimensions + little-endian
float32 data. Layers are written top-down (each layer's version, then its sub-network), their details bottom-up, so
the parameters come out in forward order. Tag and skip layers and ``add_prev`` carry no ids in the file: the wiring
comes from the architecture above, and the parser checks that the file's layer kinds and shapes match it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from thead.errors import InputError

CHIP_SIZE = 150  # px, the face chip side the network was trained on
CHIP_PADDING = 0.25  # dlib's get_face_chip_details padding for this network
SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on the descriptor distance
DESCRIPTOR_DIM = 128
# residual stages in forward order: (channels, downsample first, number of plain residual blocks)
STAGES = ((32, False, 3), (64, True, 3), (128, True, 2), (256, True, 2), (256, True, 0))


# ---- dlib's serialization -------------------------------------------------------------------------------------
@dataclass
class DlibLayer:
    """One ``add_layer``'s details as read from the file."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    version: str
    params: Optional[np.ndarray] = None  # the layer's flat float32 parameters
    shape: dict = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.b = data
        self.pos = 0
        self.path = path

    def fail(self, what: str):
        raise InputError(f"{self.path}: not dlib's face-recognition ResNet ({what} at byte {self.pos})")

    def int(self) -> int:
        if self.pos >= len(self.b):
            self.fail("unexpected end of file")
        c = self.b[self.pos]
        n = c & 0x0F
        if c & 0x70 or n > 8:
            self.fail("bad integer")
        v = int.from_bytes(self.b[self.pos + 1:self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -v if c & 0x80 else v

    def string(self) -> str:
        n = self.int()
        if n < 0 or n > 256:
            self.fail("bad string length")
        s = self.b[self.pos:self.pos + n]
        self.pos += n
        try:
            return s.decode("ascii")
        except UnicodeDecodeError:
            self.fail("bad string")
            raise

    def peek_string(self) -> Optional[str]:
        pos = self.pos
        try:
            n = self.int()
            if not 0 < n <= 64:
                return None
            s = self.b[self.pos:self.pos + n].decode("ascii")
            return s if s.replace("_", "").isalnum() else None
        except (UnicodeDecodeError, InputError):
            return None
        finally:
            self.pos = pos

    def bool(self) -> bool:
        c = self.b[self.pos:self.pos + 1]
        if c not in (b"0", b"1"):
            self.fail("bad boolean")
        self.pos += 1
        return c == b"1"

    def float(self) -> float:
        m, e = self.int(), self.int()
        if e == 32000:
            return math.inf if m >= 0 else -math.inf
        if e == 32002:
            return math.nan
        return math.ldexp(m, e)

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            self.fail("bad tensor version")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.pos + 4 * count
        if count < 0 or end > len(self.b):
            self.fail("truncated tensor")
        a = np.frombuffer(self.b, "<f4", count=count, offset=self.pos).reshape(dims)
        self.pos = end
        return a

    def alias(self) -> tuple[int, int, int, int]:
        if self.int() != 1:
            self.fail("bad alias tensor version")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


def _details(r: _Reader) -> DlibLayer:
    v = r.string()
    if v in ("con_4", "con_5", "con_6"):
        params = r.tensor()
        nf, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
        filters, biases = r.alias(), r.alias()
        for _ in range(4):
            r.float()  # learning-rate and weight-decay multipliers
        use_bias = r.bool() if v in ("con_5", "con_6") else True
        if v == "con_6":
            r.bool()
        return DlibLayer("con", v, params.ravel(), dict(filters=filters, biases=biases, num_filters=nf, nr=nr, nc=nc,
                                                         stride=(sy, sx), padding=(py, px), use_bias=use_bias))
    if v in ("affine_", "affine_2"):
        params = r.tensor()
        gamma, beta = r.alias(), r.alias()
        mode = r.int()
        if v == "affine_2":
            r.bool()
        return DlibLayer("affine", v, params.ravel(), dict(gamma=gamma, beta=beta, mode=mode))
    if v in ("relu_", "relu_2"):
        if v == "relu_2":
            r.bool()
        return DlibLayer("relu", v)
    if v in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
        return DlibLayer(v[:-2], v, None, dict(nr=nr, nc=nc, stride=(sy, sx), padding=(py, px)))
    if v == "add_prev_":
        return DlibLayer("add_prev", v)
    if v in ("fc_2", "fc_3"):
        n_out, n_in = r.int(), r.int()
        params = r.tensor()
        weights, biases = r.alias(), r.alias()
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        if v == "fc_3":
            r.bool()
        return DlibLayer("fc", v, params.ravel(), dict(num_outputs=n_out, num_inputs=n_in, weights=weights,
                                                        biases=biases, bias_mode=bias_mode))
    r.fail(f"unexpected layer {v!r}")
    raise AssertionError


def read_dlib_net(path: Path) -> tuple[dict, list[DlibLayer]]:
    """Parse a dlib ``loss_metric`` network file.

    Returns:
        (input: {"avg": (3,) float RGB means, "size": (nr, nc)}, the ``add_layer`` details in forward order).

    Raises:
        InputError: missing file, or not a dlib metric-learning network of the expected format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    r = _Reader(path.read_bytes(), path)
    version = r.int()
    loss = r.string()
    if version != 1 or loss not in ("loss_metric_", "loss_metric_2"):
        r.fail("no loss_metric header")
    if loss == "loss_metric_2":
        r.float(), r.float()  # margin, distance threshold
    versions = []  # top-down: 2 = add_layer, 1 = tag / skip layer
    while True:
        versions.append(r.int())
        if r.peek_string() == "input_rgb_image_sized":
            break
        if len(versions) > 1000 or versions[-1] not in (1, 2):
            r.fail("unexpected layer nesting")
    bottom_version = versions.pop()
    if r.string() != "input_rgb_image_sized":
        r.fail("no input layer")
    avg = np.array([r.float(), r.float(), r.float()], np.float32)
    size = (r.int(), r.int())
    layers = []

    def trailer(version: int, bottom: bool) -> None:
        r.bool(), r.bool(), r.bool()
        r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, params_grad / grad_final
        if bottom and version >= 3:
            r.int()  # sample expansion factor

    layers.append(_details(r))
    trailer(bottom_version, True)
    for v in reversed(versions):
        if v == 2:
            layers.append(_details(r))
            trailer(v, False)
    if r.pos != len(r.b):
        r.fail(f"{len(r.b) - r.pos} bytes left after the network")
    return {"avg": avg, "size": size}, layers


# ---- the network in torch -------------------------------------------------------------------------------------
def _torch_modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    def add(a, b):
        """dlib's add of differently shaped tensors: zero-pad both to the larger size at the end of each axis."""
        if a.shape == b.shape:
            return a + b
        shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

        def pad(t):
            return F.pad(t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1]))

        return pad(a) + pad(b)

    class Affine(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(c))
            self.beta = nn.Parameter(torch.zeros(c))

        def forward(self, x):
            return x * self.gamma[None, :, None, None] + self.beta[None, :, None, None]

    class Residual(nn.Module):
        def __init__(self, cin: int, cout: int, down: bool):
            super().__init__()
            s = 2 if down else 1
            self.down = down
            self.conv1 = nn.Conv2d(cin, cout, 3, s, 0 if down else 1)
            self.aff1 = Affine(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
            self.aff2 = Affine(cout)

        def forward(self, x):
            y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
            return F.relu(add(F.avg_pool2d(x, 2, 2) if self.down else x, y))

    return torch, nn, F, Affine, Residual


def build_face_net():
    """An uninitialised network of dlib's layout (random weights); ``load_face_net`` fills it from the file."""
    torch, nn, F, Affine, Residual = _torch_modules()

    class DlibFaceNet(nn.Module):
        """dlib's face-recognition ResNet as a torch module (weights from ``load_face_net``).

        ``forward(x)`` takes ``x`` (B, 3, 150, 150) float RGB in [0, 255] (aligned face chips, see ``face_chips``)
        and returns (B, 128) descriptors (not normalised, as dlib's); ``features(x)`` returns the activations after
        the stem and after each stage, for perceptual losses. Differentiable.
        """

        def __init__(self):
            super().__init__()
            self.register_buffer("avg", torch.tensor([122.782, 117.001, 104.298]))  # replaced by the file's
            self.conv1 = nn.Conv2d(3, 32, 7, 2, 0)
            self.aff1 = Affine(32)
            stages = []
            cin = 32
            for c, down, n in STAGES:
                blocks = [Residual(cin, c, True)] if down else []
                blocks += [Residual(c, c, False) for _ in range(n)]
                stages.append(nn.Sequential(*blocks))
                cin = c
            self.stages = nn.ModuleList(stages)
            self.fc = nn.Linear(256, DESCRIPTOR_DIM, bias=False)

        def normalize(self, x):
            return (x - self.avg[None, :, None, None]) / 256.0

        def features(self, x) -> list:
            """Activations: after the stem (B, 32, 35, 35) and after each stage (B, C, 35..1, 35..1)."""
            h = F.max_pool2d(F.relu(self.aff1(self.conv1(self.normalize(x)))), 3, 2)
            feats = [h]
            for s in self.stages:
                h = s(h)
                feats.append(h)
            return feats

        def forward(self, x):
            h = self.features(x)[-1]
            return self.fc(h.mean(dim=(2, 3)))

    return DlibFaceNet()


def load_face_net(path: Optional[Path] = None, device: str = "cpu"):
    """dlib's face-recognition ResNet with its weights read from ``path`` (default: the file in
    ``face_recognition_models``), in eval mode with frozen parameters.

    Raises:
        InputError: missing or malformed file, or layers that do not match dlib's ``anet_type``.
    """
    import torch

    from thead.face.models_path import FACE_RECOGNITION_RESNET, dlib_model

    path = Path(path) if path is not None else dlib_model(FACE_RECOGNITION_RESNET)
    inp, layers = read_dlib_net(path)
    if tuple(inp["size"]) != (CHIP_SIZE, CHIP_SIZE):
        raise InputError(f"{path}: input size {inp['size']}, expected {CHIP_SIZE}x{CHIP_SIZE}")
    net = build_face_net()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    affines = [m for m in net.modules() if type(m).__name__ == "Affine"]
    got_con = [ly for ly in layers if ly.kind == "con"]
    got_aff = [ly for ly in layers if ly.kind == "affine"]
    got_fc = [ly for ly in layers if ly.kind == "fc"]
    if len(got_con) != len(convs) or len(got_aff) != len(affines) or len(got_fc) != 1:
        raise InputError(f"{path}: {len(got_con)} conv, {len(got_aff)} affine and {len(got_fc)} fc layers; dlib's "
                         f"face ResNet has {len(convs)}, {len(affines)} and 1")
    with torch.no_grad():
        for m, ly in zip(convs, got_con):
            shp = ly.shape["filters"]
            if tuple(shp) != tuple(m.weight.shape) or tuple(ly.shape["stride"]) != m.stride or \
                    tuple(ly.shape["padding"]) != m.padding:
                raise InputError(f"{path}: conv {shp} stride {ly.shape['stride']} padding {ly.shape['padding']} "
                                 f"where dlib's face ResNet has {tuple(m.weight.shape)} {m.stride} {m.padding}")
            n = int(np.prod(shp))
            m.weight.copy_(torch.from_numpy(ly.params[:n].reshape(shp).copy()))
            m.bias.copy_(torch.from_numpy(ly.params[n:n + shp[0]].copy()))
        for m, ly in zip(affines, got_aff):
            c = m.gamma.numel()
            if ly.params.size != 2 * c:
                raise InputError(f"{path}: affine layer of {ly.params.size // 2} channels, expected {c}")
            m.gamma.copy_(torch.from_numpy(ly.params[:c].copy()))
            m.beta.copy_(torch.from_numpy(ly.params[c:].copy()))
        fc = got_fc[0]
        n_in, n_out = fc.shape["num_inputs"], fc.shape["num_outputs"]
        if (n_in, n_out) != (256, DESCRIPTOR_DIM):
            raise InputError(f"{path}: fc {n_in}->{n_out}, expected 256->{DESCRIPTOR_DIM}")
        net.fc.weight.copy_(torch.from_numpy(fc.params[:n_in * n_out].reshape(n_in, n_out).T.copy()))
        net.avg.copy_(torch.from_numpy(inp["avg"]))
    for ly in layers:
        if ly.params is not None and not np.isfinite(ly.params).all():
            raise InputError(f"{path}: non-finite weights in a {ly.kind} layer")
    return net.eval().requires_grad_(False).to(device)


def face_chips(images: list[np.ndarray], landmarks: list[np.ndarray], size: int = CHIP_SIZE,
               padding: float = CHIP_PADDING) -> np.ndarray:
    """Aligned face chips as dlib cuts them for this network (``dlib.get_face_chip``, 150 px, padding 0.25) from
    ibug-68 landmarks.

    Args:
        images: (H, W, 3) uint8 RGB pictures.
        landmarks: (68, 2) float pixel landmarks, one per picture (ibug order, as ``thead extract-landmarks``).

    Returns:
        (N, size, size, 3) uint8 RGB chips.
    """
    import dlib

    chips = []
    for img, lm in zip(images, landmarks):
        pts = [dlib.point(int(round(x)), int(round(y))) for x, y in np.asarray(lm, np.float64)]
        xs, ys = np.asarray(lm)[:, 0], np.asarray(lm)[:, 1]
        rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        shape = dlib.full_object_detection(rect, pts)
        chips.append(np.asarray(dlib.get_face_chip(np.ascontiguousarray(img), shape, size=size, padding=padding)))
    return np.stack(chips)
