"""Fit a linear 3DMM to the 68 landmarks of a clip (batched over frames in torch).

Model (weak perspective, as FACIAL's parameter vector: 3 angles, scale, tx, ty):
    X_t = mean + id_basis^T a + exp_basis^T e_t                      (68, 3) model units
    p_t = s_t * [1, -1] * (R(r_t) X_t)[:, :2] + tr_t                  (68, 2) pixels, y down
with one identity ``a`` per clip, per-frame expression ``e_t`` (ICT: blendshape weights kept in [0, 1] by projection
after every step), rotation ``r_t`` = (pitch, yaw, roll) radians with R = Rz(roll) Ry(yaw) Rx(pitch), translation
``tr_t`` (px) and scale ``s_t`` (px per model unit).

Objective (a standard landmark-fitting energy; thead's choice of weights, tuned on the sample clips):
    sum_t w_j |p_tj - l_tj|^2 / d_t^2 / 68           data term, d_t = inter-ocular distance (px); jaw points
                                                     weighted 0.5 (contour ambiguity), eye points 3 (blinks)
  + lam_id |a|^2 / T_valid-independent                 identity prior (ICT weights ~ N(0, 1))
  + lam_exp mean |e_t|^2                                 expression prior
  + lam_smooth_exp mean |e_t - e_{t-1}|^2 + lam_smooth_pose mean |r_t - r_{t-1}|^2   temporal smoothness
Frames without landmarks only take part through the smoothness terms, so their parameters are interpolated.
Initialisation: per-frame affine camera by least squares against the mean shape, orthonormalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thead.face.facemodel import FaceModel
from thead.face.landmarks import interocular

JAW = slice(0, 17)
EYES = slice(36, 48)


@dataclass
class FitConfig:
    k_id: int = 100  # identity modes used (ICT has 100)
    lam_id: float = 1e-5
    lam_exp: float = 1e-4
    lam_smooth_exp: float = 1e-4
    lam_smooth_pose: float = 1e-3
    jaw_weight: float = 0.5
    eye_weight: float = 3.0  # ibug 36-47: eyelids carry the blink signal
    iters_rigid: int = 100
    iters: int = 450
    lr: float = 0.05


@dataclass
class FitResult:
    identity: np.ndarray  # (K_id,) float32, all of the model's modes (unused ones 0)
    expression: np.ndarray  # (T, K_exp) float32
    rotation: np.ndarray  # (T, 3) float32 radians: pitch, yaw, roll
    translation: np.ndarray  # (T, 2) float32 px
    scale: np.ndarray  # (T,) float32 px per model unit
    reproj_err_px: np.ndarray  # (T,) float32, mean point distance; NaN where no landmarks
    reproj_err_iod: np.ndarray  # (T,) float32, the same over the inter-ocular distance
    valid: np.ndarray  # (T,) bool

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(identity=self.identity, expression=self.expression, rotation=self.rotation,
                    translation=self.translation, scale=self.scale, reproj_err_px=self.reproj_err_px,
                    reproj_err_iod=self.reproj_err_iod, valid=self.valid)


def euler_to_matrix(r):
    """(..., 3) pitch, yaw, roll radians -> (..., 3, 3) rotation Rz(roll) @ Ry(yaw) @ Rx(pitch); torch or numpy."""
    import torch

    t = torch.as_tensor(r)
    cx, cy, cz = torch.cos(t[..., 0]), torch.cos(t[..., 1]), torch.cos(t[..., 2])
    sx, sy, sz = torch.sin(t[..., 0]), torch.sin(t[..., 1]), torch.sin(t[..., 2])
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(*t.shape[:-1], 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*t.shape[:-1], 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(*t.shape[:-1], 3, 3)
    out = rz @ ry @ rx
    return out if isinstance(r, torch.Tensor) else out.numpy()


def matrix_to_euler(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) pitch, yaw, roll (inverse of ``euler_to_matrix`` away from gimbal lock)."""
    yaw = np.arcsin(np.clip(-R[..., 2, 0], -1, 1))
    pitch = np.arctan2(R[..., 2, 1], R[..., 2, 2])
    roll = np.arctan2(R[..., 1, 0], R[..., 0, 0])
    return np.stack([pitch, yaw, roll], -1)


def affine_camera(X: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares affine camera P (2, 4) with x ~ P @ [X; 1]. X: (N, 3), x: (N, 2) -> (2, 4)."""
    A = np.hstack([X, np.ones((len(X), 1))])
    P, *_ = np.linalg.lstsq(A, x, rcond=None)
    return P.T


def init_rigid(mean68: np.ndarray, lmk: np.ndarray):
    """Per-frame weak-perspective pose from an affine fit of the mean shape. lmk: (T, 68, 2) with NaN allowed."""
    T = len(lmk)
    rot = np.zeros((T, 3))
    tr = np.zeros((T, 2))
    sc = np.ones(T)
    for t in range(T):
        if not np.isfinite(lmk[t]).all():
            continue
        P = affine_camera(mean68, lmk[t])
        M = P[:, :3] * np.array([[1.0], [-1.0]])  # undo the image's y flip
        s = (np.linalg.norm(M[0]) + np.linalg.norm(M[1])) / 2
        u, _, vt = np.linalg.svd(M / s)
        r12 = u @ np.eye(2, 3) @ vt
        R = np.vstack([r12, np.cross(r12[0], r12[1])])
        rot[t], tr[t], sc[t] = matrix_to_euler(R), P[:, 3], s
    valid = np.isfinite(lmk).all(axis=(1, 2))
    if valid.any() and not valid.all():  # frames without landmarks start from the nearest valid frame
        idx = np.where(valid)[0]
        near = idx[np.abs(np.arange(T)[:, None] - idx[None]).argmin(1)]
        rot, tr, sc = rot[near], tr[near], sc[near]
    return rot, tr, sc


def fit_landmarks(model: FaceModel, landmarks: np.ndarray, cfg: FitConfig | None = None) -> FitResult:
    """Fit identity, expression and pose to a clip's landmarks.

    Args:
        model: the face model.
        landmarks: (T, 68, 2) float pixels (x, y), NaN rows for frames without a face.
        cfg: weights and iteration counts.

    Returns:
        FitResult with per-frame reprojection errors.

    Raises:
        ValueError: no frame has landmarks.
    """
    import torch

    DTYPE = torch.float32  # pixel-scale residuals are well within float32; float64 is several times slower
    cfg = cfg or FitConfig()
    lmk = np.asarray(landmarks, np.float64)
    valid = np.isfinite(lmk).all(axis=(1, 2))
    if not valid.any():
        raise ValueError("no frame has landmarks to fit")
    T = len(lmk)
    k_id = min(cfg.k_id, model.k_id)
    idx = model.landmarks68
    mean = torch.tensor(model.mean_shape[idx], dtype=DTYPE)
    A_id = torch.tensor(model.id_basis[:k_id, idx], dtype=DTYPE)
    A_exp = torch.tensor(model.exp_basis[:, idx], dtype=DTYPE)
    rot0, tr0, sc0 = init_rigid(model.mean_shape[idx].astype(np.float64), lmk)

    target = torch.tensor(np.nan_to_num(lmk), dtype=DTYPE)
    vmask = torch.tensor(valid, dtype=DTYPE)
    d = interocular(np.nan_to_num(lmk))
    d = np.where(valid, np.maximum(d, 1.0), 1.0)
    inv_d2 = torch.tensor(1.0 / d**2, dtype=DTYPE)
    w = torch.ones(68, dtype=DTYPE)
    w[JAW] = cfg.jaw_weight
    w[EYES] = cfg.eye_weight

    a = torch.zeros(k_id, dtype=DTYPE, requires_grad=True)
    e = torch.zeros(T, model.k_exp, dtype=DTYPE, requires_grad=True)
    r = torch.tensor(rot0, dtype=DTYPE, requires_grad=True)
    tr = torch.tensor(tr0, dtype=DTYPE, requires_grad=True)
    ls = torch.tensor(np.log(sc0), dtype=DTYPE, requires_grad=True)
    flip = torch.tensor([1.0, -1.0], dtype=DTYPE)
    n_valid = float(valid.sum())

    def project():
        X = mean + torch.einsum("k,kvc->vc", a, A_id) + torch.einsum("tk,kvc->tvc", e, A_exp)
        Xr = X @ euler_to_matrix(r).transpose(-1, -2)
        return torch.exp(ls)[:, None, None] * Xr[..., :2] * flip + tr[:, None, :]

    def loss_fn():
        p = project()
        err = ((p - target) ** 2).sum(-1)  # (T, 68)
        data = ((err * w).mean(-1) * inv_d2 * vmask).sum() / n_valid
        reg = cfg.lam_id * (a**2).sum() / max(1.0, k_id / 10) + cfg.lam_exp * (e**2).sum(-1).mean()
        if T > 1:
            reg = reg + cfg.lam_smooth_exp * ((e[1:] - e[:-1]) ** 2).sum(-1).mean()
            reg = reg + cfg.lam_smooth_pose * ((r[1:] - r[:-1]) ** 2).sum(-1).mean()
        return data + reg

    lo, hi = model.exp_bounds if model.exp_bounds else (None, None)
    stages = [([r, tr, ls], cfg.iters_rigid), ([a, e, r, tr, ls], cfg.iters)]
    for params, iters in stages:
        opt = torch.optim.Adam(params, lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(iters, 1))
        for _ in range(iters):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            sched.step()
            if lo is not None:
                with torch.no_grad():
                    e.clamp_(lo, hi)
    with torch.no_grad():
        p = project().numpy()
    err_px = np.linalg.norm(p - lmk, axis=-1).mean(-1)
    err_px = np.where(valid, err_px, np.nan)
    identity = np.zeros(model.k_id, np.float32)  # modes beyond k_id stay at their prior mean
    identity[:k_id] = a.detach().numpy()
    return FitResult(
        identity=identity, expression=e.detach().numpy().astype(np.float32),
        rotation=r.detach().numpy().astype(np.float32), translation=tr.detach().numpy().astype(np.float32),
        scale=np.exp(ls.detach().numpy()).astype(np.float32), reproj_err_px=err_px.astype(np.float32),
        reproj_err_iod=(err_px / d).astype(np.float32), valid=valid,
    )


def project_vertices(verts: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: float) -> np.ndarray:
    """Weak-perspective projection of (V, 3) model vertices -> (V, 3): x, y pixels and depth (px, larger = closer)."""
    R = euler_to_matrix(np.asarray(rotation, np.float64))
    Xr = verts.astype(np.float64) @ R.T
    out = np.empty_like(Xr)
    out[:, 0] = scale * Xr[:, 0] + translation[0]
    out[:, 1] = -scale * Xr[:, 1] + translation[1]
    out[:, 2] = scale * Xr[:, 2]
    return out
