"""FLNet's spatial maps: the landmark difference field (network input), bilinear warping (eq. 4) and the landmark
heatmap weight K of the reconstruction losses (eq. 12, 13). Tensors are torch, images (B, C, S, S)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAMMA = 0.95  # FLNet: K = gamma ** distance, "gamma is empirically set to 0.95"
K_FLOOR = 0.3  # FLNet: "we lower bound the values in heatmap to 0.3"
PAPER_SIZE = 224
PAPER_MARGIN_PX = 40.0  # FLNet eq. 3: warping margin M at 224x224


def default_margin(size: int) -> float:
    """The warp margin M in px for a crop size: the paper's 40 px at 224, scaled with the crop (128 -> 22.9 px)."""
    return PAPER_MARGIN_PX * size / PAPER_SIZE


def landmark_difference_field(src_lmk: torch.Tensor, tgt_lmk: torch.Tensor, size: int,
                              margin: float) -> torch.Tensor:
    """Delta F_s (FLNet "Network Inputs"): per bank image a 2-channel map holding the target-minus-source landmark
    offsets at the (rounded) source landmark pixels and zero elsewhere.

    Args:
        src_lmk: (B, N, 68, 2) bank landmarks, crop px (x, y).
        tgt_lmk: (B, 68, 2) target landmarks, crop px.
        size: crop side S, px.
        margin: offsets are divided by the warp margin M (px) so the field has the units of the warp field W_w
            (the paper does not say how the offsets are scaled; this keeps typical values within [-1, 1]).

    Returns:
        (B, 2N, S, S) float32; channels 2i, 2i+1 hold (dx, dy) for bank image i. Landmarks outside the crop and
        NaN landmarks are left out; where two landmarks round to one pixel the later index wins.
    """
    b, n = src_lmk.shape[:2]
    off = (tgt_lmk[:, None] - src_lmk) / margin  # (B, N, 68, 2)
    pix = torch.round(src_lmk)
    ok = torch.isfinite(pix).all(-1) & torch.isfinite(off).all(-1) & (pix >= 0).all(-1) & (pix <= size - 1).all(-1)
    pix = torch.where(ok[..., None], pix, torch.zeros_like(pix)).long()
    off = torch.where(ok[..., None], off, torch.zeros_like(off))
    # masked landmarks write into a spare slot (index S*S) that is dropped at the end
    idx = torch.where(ok, pix[..., 1] * size + pix[..., 0], torch.full_like(pix[..., 0], size * size))
    field = src_lmk.new_zeros(b * n, 2, size * size + 1)
    rows = torch.arange(b * n, device=src_lmk.device)
    idx, off = idx.reshape(b * n, -1), off.reshape(b * n, -1, 2).to(field.dtype)
    for j in range(idx.shape[1]):  # in landmark order, so the later index wins a shared pixel
        field[rows, :, idx[:, j]] = off[:, j]
    field = field[..., :-1]
    return field.view(b, 2 * n, size, size)


FIELDS = ("sparse", "dense")
DENSE_SIGMA = 1 / 16  # dense field: Gaussian width as a fraction of the crop side (8 px at 128)
DENSE_EPS = 0.05  # dense field: the offsets fade to 0 where the summed Gaussian weight is well below this


def dense_difference_field(src_lmk: torch.Tensor, tgt_lmk: torch.Tensor, size: int, margin: float,
                           sigma: float = DENSE_SIGMA) -> torch.Tensor:
    """The landmark difference field spread over the face (thead's departure from FLNet's sparse Delta F_s, issue
    12): per bank image and pixel p, ``sum_j g_j(p) o_j / (sum_j g_j(p) + DENSE_EPS)`` with ``o_j`` the target-minus-
    source offset of landmark j over ``margin`` and ``g_j`` a Gaussian of width ``sigma x size`` around the source
    landmark (normalized convolution, Knutsson & Westin 1993). Between landmarks it interpolates their offsets and
    far from every landmark it fades to zero. The sparse field gives a CNN 68 non-zero pixels of 16,384 at 128 px to
    infer a motion from; in CPU-minute budgets FLNet's mouth then moves with half the target's amplitude. Computed at
    a quarter of the crop side and upsampled bilinearly.

    Args and returns: as ``landmark_difference_field`` ((B, 2N, S, S) float32, channels (dx, dy) per bank image).
    """
    b, n = src_lmk.shape[:2]
    low = max(size // 4, 8)
    zoom = low / size
    off = (tgt_lmk[:, None] - src_lmk) / margin  # (B, N, 68, 2)
    ok = torch.isfinite(src_lmk).all(-1) & torch.isfinite(off).all(-1)
    src = torch.where(ok[..., None], src_lmk, torch.full_like(src_lmk, 1e6))
    off = torch.where(ok[..., None], off, torch.zeros_like(off)).reshape(b * n, -1, 2)
    grid = base_grid(low, src_lmk.device).view(1, -1, 2)
    pts = ((src + 0.5) * zoom - 0.5).reshape(b * n, -1, 2)
    d2 = torch.cdist(grid.expand(b * n, -1, -1), pts).pow(2)  # (BN, low^2, 68)
    g = torch.exp(-d2 / (2 * (sigma * low) ** 2))
    field = (g @ off) / (g.sum(-1, keepdim=True) + DENSE_EPS)  # (BN, low^2, 2)
    field = field.view(b * n, low, low, 2).permute(0, 3, 1, 2)
    field = F.interpolate(field, size=(size, size), mode="bilinear", align_corners=False)
    return field.reshape(b, 2 * n, size, size)


def difference_field(kind: str, src_lmk: torch.Tensor, tgt_lmk: torch.Tensor, size: int,
                     margin: float) -> torch.Tensor:
    """``landmark_difference_field`` (``sparse``, the paper's) or ``dense_difference_field`` (``dense``).

    Raises:
        ValueError: another kind.
    """
    if kind == "sparse":
        return landmark_difference_field(src_lmk, tgt_lmk, size, margin)
    if kind == "dense":
        return dense_difference_field(src_lmk, tgt_lmk, size, margin)
    raise ValueError(f"unknown difference field {kind!r} (one of {', '.join(FIELDS)})")


PRIORS = ("tps-head", "tps", "none")
TPS_REG = 1e-3  # thin-plate smoothing (coordinates in units of the crop side): dlib's landmarks jitter by ~1 px
HEAD_RING = 1.4  # "tps-head": ring radius over the face's half extent (hair and ears ride on it; measured below)
HEAD_RING_POINTS = 12


def similarity_fit(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares 2-D similarity (rotation, uniform scale, translation; Umeyama 1991) taking ``src`` points to
    ``dst`` points, batched: (..., P, 2) each. Returns (A (..., 2, 2), t (..., 2)) with dst ~ src @ A^T + t."""
    ms, md = src.mean(-2, keepdim=True), dst.mean(-2, keepdim=True)
    x, y = src - ms, dst - md
    n2 = (x * x).sum((-1, -2)).clamp(min=1e-12)
    a = (x * y).sum((-1, -2)) / n2
    b = (x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0]).sum(-1) / n2
    A = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)
    t = md.squeeze(-2) - (ms.squeeze(-2)[..., None, :] * A).sum(-1)
    return A, t


def head_ring(src_lmk: torch.Tensor, tgt_lmk: torch.Tensor, scale: float = HEAD_RING,
              points: int = HEAD_RING_POINTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Extra thin-plate anchors for the head around the face: ``points`` on a circle about the target landmarks'
    centre, radius ``scale`` x their largest half extent, and where the head's similarity motion (target -> each
    bank image, ``similarity_fit`` of the 68 landmarks) puts them in each bank image. Landmarks stop at the
    brows and jaw, so without these the spline holds hair, ears and neck where the border anchors are.

    Args: src_lmk (B, N, 68, 2), tgt_lmk (B, 68, 2), crop px. Returns (src ring (B, N, P, 2), tgt ring (B, P, 2)).
    """
    cen = tgt_lmk.mean(-2, keepdim=True)  # (B, 1, 2)
    r = (tgt_lmk - cen).abs().amax((-1, -2))  # (B,)
    ang = torch.arange(points, device=tgt_lmk.device, dtype=tgt_lmk.dtype) * (2 * torch.pi / points)
    ring = cen + scale * r[:, None, None] * torch.stack([ang.cos(), ang.sin()], -1)  # (B, P, 2)
    A, t = similarity_fit(tgt_lmk[:, None].expand_as(src_lmk), src_lmk)  # (B, N, 2, 2), (B, N, 2)
    return ring[:, None] @ A.transpose(-1, -2) + t[..., None, :], ring


def _tps_u(d2: torch.Tensor) -> torch.Tensor:
    """The thin-plate radial basis U(r) = r^2 log r^2 of squared distances (0 at 0)."""
    return d2 * torch.log(d2.clamp(min=1e-12))


def tps_flow(src_lmk: torch.Tensor, tgt_lmk: torch.Tensor, size: int, reg: float = TPS_REG,
             ring: float = 0.0) -> torch.Tensor:
    """Where each bank image's landmarks say its pixels go: a thin-plate spline (Bookstein 1989) from the target
    landmarks to each bank image's, as a backward flow for ``warp`` (output pixel p samples bank image i at
    p + flow_i(p)). Eight points on the crop's border (corners and edge midpoints) are held fixed, so the warp
    fades to none away from the face; ``reg`` smooths (a regularized spline, Wahba 1990) so one jittery landmark
    does not fold the image.

    thead's departure from FLNet (``FLNetGenerator(prior="tps")``): the network learns a correction on top of this
    flow instead of the whole flow from a 68-pixel sparse field, so the fetching stream copies real pixels to where
    the driving landmarks are from the first step (issue 12: in CPU-minute budgets the learned warps stayed near
    the identity and the mouth moved with half the target's amplitude).

    Args:
        src_lmk: (B, N, 68, 2) bank landmarks, crop px (x, y); tgt_lmk: (B, 68, 2) target landmarks, crop px.
        size: crop side S, px.
        ring: above 0 (prior "tps-head"), ``head_ring`` anchors at that radius join the landmarks: the head
            around the face moves with the face's similarity motion. Measured on a held-back clip tail (40 targets,
            5-image bank, 128 px): the per-pixel best of the 5 warped bank images is 8.1 L1 (0-255) with the
            border anchors alone, 7.4 with a ring at 1.4 (8.3 at 2.5: the ring then pulls background).

    Returns:
        (B, N, 2, S, S) float32 px. A bank image or target with any non-finite landmark gets a zero flow.
    """
    b, n = src_lmk.shape[:2]
    ok = torch.isfinite(src_lmk).all(-1).all(-1) & torch.isfinite(tgt_lmk).all(-1).all(-1)[:, None]  # (B, N)
    if ring > 0:  # the ring is finite wherever ok is: ok still says which pairs get a flow
        s_ring, t_ring = head_ring(torch.where(ok[..., None, None], src_lmk, torch.zeros_like(src_lmk)),
                                   torch.nan_to_num(tgt_lmk), ring)
        src_lmk = torch.cat([src_lmk, s_ring], 2)
        tgt_lmk = torch.cat([tgt_lmk, t_ring], 1)
    dev = src_lmk.device
    s1 = float(size - 1)
    edge = torch.tensor([[0, 0], [0.5, 0], [1, 0], [0, 0.5], [1, 0.5], [0, 1], [0.5, 1], [1, 1]], device=dev)
    src = torch.where(ok[..., None, None], src_lmk, torch.zeros_like(src_lmk)).double() / s1
    tgt = torch.where(ok[..., None, None], tgt_lmk[:, None].expand_as(src_lmk),
                      torch.zeros_like(src_lmk)).double() / s1
    src = torch.cat([src, edge.double().expand(b, n, -1, -1)], 2).reshape(b * n, -1, 2)
    ctl = torch.cat([tgt, edge.double().expand(b, n, -1, -1)], 2).reshape(b * n, -1, 2)
    k = ctl.shape[1]
    K = _tps_u((ctl[:, :, None] - ctl[:, None]).pow(2).sum(-1)) + reg * torch.eye(k, dtype=ctl.dtype, device=dev)
    P = torch.cat([torch.ones(b * n, k, 1, dtype=ctl.dtype, device=dev), ctl], 2)
    A = torch.zeros(b * n, k + 3, k + 3, dtype=ctl.dtype, device=dev)
    A[:, :k, :k], A[:, :k, k:], A[:, k:, :k] = K, P, P.transpose(1, 2)
    rhs = torch.cat([src, torch.zeros(b * n, 3, 2, dtype=ctl.dtype, device=dev)], 1)
    coef = torch.linalg.solve(A, rhs).float()  # (BN, k + 3, 2)
    low = max(size // 4, 8)  # the spline is smooth: evaluated on a quarter-resolution grid, upsampled bilinearly
    grid = base_grid(low, dev).view(1, -1, 2) / float(low - 1)
    ctl = ctl.float()
    g = grid.expand(b * n, -1, -1)
    d2 = (g * g).sum(-1, keepdim=True) + (ctl * ctl).sum(-1)[:, None] - 2 * g @ ctl.transpose(1, 2)
    U = _tps_u(d2.clamp(min=0))  # (BN, L*L, k)
    Pg = torch.cat([torch.ones(b * n, low * low, 1, device=dev), g], 2)
    mapped = U @ coef[:, :k] + Pg @ coef[:, k:]  # (BN, L*L, 2), bank coordinates / s1
    flow = ((mapped - grid) * s1).view(b * n, low, low, 2).permute(0, 3, 1, 2)
    flow = F.interpolate(flow, size=(size, size), mode="bilinear", align_corners=True).view(b, n, 2, size, size)
    return torch.where(ok[..., None, None, None], flow, torch.zeros_like(flow))


def base_grid(size: int, device=None) -> torch.Tensor:
    """(S, S, 2) pixel coordinates (x, y) of every pixel centre."""
    r = torch.arange(size, dtype=torch.float32, device=device)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([xx, yy], -1)


def warp(images: torch.Tensor, flow_px: torch.Tensor) -> torch.Tensor:
    """phi(x, w) of FLNet eq. 4: bilinear backward warping, output(p) = x(p + w(p)), border pixels repeated.

    Args:
        images: (B, C, S, S).
        flow_px: (B, 2, S, S) displacement in px (x, y). A zero field returns ``images`` (up to float rounding, ~1e-6).

    Returns:
        (B, C, S, S).
    """
    s = images.shape[-1]
    pos = base_grid(s, images.device)[None] + flow_px.permute(0, 2, 3, 1)
    grid = pos * (2.0 / (s - 1)) - 1.0
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def heatmap_weight(tgt_lmk: torch.Tensor, size: int, gamma: float = GAMMA, floor: float = K_FLOOR) -> torch.Tensor:
    """K of FLNet eq. 12-13: ``max(gamma ** B, floor)`` where B is each pixel's Euclidean distance (px) to the nearest
    target landmark.

    Args:
        tgt_lmk: (B, 68, 2) crop px; NaN landmarks are ignored (all NaN: K = 1 everywhere).

    Returns:
        (B, 1, S, S) in [floor, 1].
    """
    grid = base_grid(size, tgt_lmk.device).view(1, -1, 2)
    big = torch.full_like(tgt_lmk, 1e6)
    pts = torch.where(torch.isfinite(tgt_lmk), tgt_lmk, big)
    d = torch.cdist(grid.expand(len(pts), -1, -1), pts).amin(-1)  # (B, S*S)
    k = torch.pow(torch.tensor(gamma, device=d.device), d).clamp(min=floor)
    k = torch.where(torch.isfinite(tgt_lmk).all(-1).any(-1, keepdim=True), k, torch.ones_like(k))
    return k.view(-1, 1, size, size)
