"""FACIAL's renders (section 3.3): the reference person's 3DMM face with a frame's expression and pose, plus the eye
attention map filled with the blink value, drawn with thead's shared rasteriser (the one frontalize uses).

- Geometry: identity from the reference fit (fixed), expression and pose per frame, weak perspective as fit-3dmm.
- Colour: per-vertex albedo estimated from reference frames. Each vertex takes its colour in up to ``n_frames``
  evenly spaced frames where it is visible (z-buffer test) and facing the camera, divided by a Lambert shade
  ``0.35 + 0.65 n_z`` (a light at the camera), averaged with weights n_z. Vertices never seen get the mean colour.
  The render is albedo x the same shade at the new pose: a simple stand-in for FACIAL's Deep3DFaceRecon texture and
  spherical-harmonics lighting, which need BFM and pretrained weights.
- Eye attention map (eq. 9): eye-region vertices of the mean shape, ``(v_x - c_x)^2 / 4 + (v_y - c_y)^2 < th`` around
  each eye's landmark centre, with ``th = 0.09 w^2`` (w: the eye's corner-to-corner width, so the region reaches
  0.6 w sideways and 0.3 w up and down) and only vertices within one eye width of the eye in depth (the head's back
  shares x, y). Each eye's projected region is filled (its convex hull) with the blink value AU45 / 5 (FACIAL: "we
  apply the normalized blinking value to the pixels in the eye attention map"). thead writes ``32 + 223 x blink``
  there and 0 elsewhere, so the network sees where the eyes are also when they are open (blink 0).

Output frames are (H, W, 4) uint8: RGB render and the attention channel (0-255).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EYE_TH = 0.09  # eq. 9 threshold as a fraction of the squared eye width
EYE_FLOOR = 32  # attention value of an open eye (0-255)
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)


def eye_region_vertices(model, th: float = EYE_TH) -> list[np.ndarray]:
    """Vertex indices of each eye's region: FACIAL eq. 9 on the model's mean shape (left eye, right eye)."""
    v = model.mean_shape
    out = []
    for eye in (LEFT_EYE, RIGHT_EYE):
        pts = v[model.landmarks68[eye]]
        c = pts.mean(0)
        w = np.linalg.norm(pts[0] - pts[3])
        inside = (v[:, 0] - c[0]) ** 2 / 4 + (v[:, 1] - c[1]) ** 2 < th * w * w
        out.append(np.flatnonzero(inside & (np.abs(v[:, 2] - c[2]) < w)))
    return out


def shade(model, verts_px: np.ndarray) -> np.ndarray:
    """(V,) Lambert shade 0.35 + 0.65 max(n_z, 0) of projected vertices (light at the camera)."""
    vn = model.vertex_normals(verts_px * np.array([1.0, -1.0, 1.0]))
    return 0.35 + 0.65 * np.clip(vn[:, 2], 0, 1)


@dataclass
class Pose:
    rotation: np.ndarray  # (3,) rad
    translation: np.ndarray  # (2,) px
    scale: float


class FaceRenderer:
    """Render (H, W, 4) frames of one reference person.

    Args:
        model: the face model of the fit.
        identity: (K_id,) identity weights from the reference fit.
        albedo: (V, 3) float in [0, 1] (``estimate_albedo``).
        width, height: output size, px (poses are in these pixels).
    """

    def __init__(self, model, identity: np.ndarray, albedo: np.ndarray, width: int, height: int):
        from thead.face.render import Rasterizer

        self.model, self.identity, self.albedo = model, identity, albedo
        self.r = Rasterizer(width, height)
        self.eyes = eye_region_vertices(model)
        self.base = model.shape(identity, np.zeros(model.k_exp, np.float32))  # identity part, computed once
        self.exp_basis = model.exp_basis.reshape(model.k_exp, -1)

    def __call__(self, expression: np.ndarray, pose: Pose, blink: float) -> np.ndarray:
        from thead.face.fit import project_vertices

        verts = self.base + (np.asarray(expression, np.float32) @ self.exp_basis).reshape(-1, 3)
        px = project_vertices(verts, pose.rotation, pose.translation, pose.scale)
        colour = self.albedo * shade(self.model, px)[:, None]
        attr, _ = self.r.render(px, self.model.triangles, colour, cull_back=True)
        out = np.zeros(attr.shape[:2] + (4,), np.uint8)
        out[..., :3] = np.clip(attr[..., :3] * 255 + 0.5, 0, 255).astype(np.uint8)
        out[..., 3] = self.attention(px, blink)
        return out

    def attention(self, px: np.ndarray, blink: float) -> np.ndarray:
        """(H, W) uint8 eye attention map: each eye region's projected outline, filled (the light ICT model has
        holes where the eyeballs sit), set to ``32 + 223 x blink`` (blink in 0-1); 0 elsewhere."""
        import cv2

        att = np.zeros((self.r.height, self.r.width), np.uint8)
        val = int(EYE_FLOOR + (255 - EYE_FLOOR) * float(np.clip(blink, 0, 1)) + 0.5)
        for idx in self.eyes:
            hull = cv2.convexHull(np.round(px[idx, :2]).astype(np.int32))
            cv2.fillConvexPoly(att, hull, val)
        return att


def estimate_albedo(model, identity: np.ndarray, frames, expression: np.ndarray, poses: list[Pose]) -> np.ndarray:
    """Per-vertex albedo (V, 3) in [0, 1] from reference frames (see module doc).

    Args:
        frames: (H, W, 3) uint8 images, one per entry of ``expression`` (K,) rows and ``poses``.
    """
    from thead.face.fit import project_vertices
    from thead.face.render import Rasterizer

    acc = np.zeros((model.n_vertices, 3))
    wsum = np.zeros(model.n_vertices)
    r = None
    for img, e, p in zip(frames, expression, poses):
        h, w = img.shape[:2]
        if r is None:
            r = Rasterizer(w, h)
        px = project_vertices(model.shape(identity, e), p.rotation, p.translation, p.scale)
        depth, mask = r.render(px, model.triangles, px[:, 2:3], cull_back=True)
        xi = np.clip(np.round(px[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(px[:, 1]).astype(int), 0, h - 1)
        inside = (px[:, 0] >= 0) & (px[:, 0] <= w - 1) & (px[:, 1] >= 0) & (px[:, 1] <= h - 1)
        tol = 0.01 * p.scale * 20  # ~2 mm at ICT's cm units, in px
        visible = inside & mask[yi, xi] & (px[:, 2] >= depth[yi, xi, 0] - tol)
        sh = shade(model, px)
        facing = np.clip(sh - 0.35, 0, None) / 0.65
        wgt = np.where(visible, facing, 0.0)
        acc += wgt[:, None] * img[yi, xi].astype(np.float64) / 255.0 / sh[:, None]
        wsum += wgt
    seen = wsum > 1e-3
    alb = np.empty((model.n_vertices, 3))
    alb[seen] = acc[seen] / wsum[seen, None]
    alb[~seen] = alb[seen].mean(0) if seen.any() else 0.5
    return np.clip(alb, 0, 1).astype(np.float32)


def landmarks_px(model, identity: np.ndarray, expression: np.ndarray, poses: list[Pose]) -> np.ndarray:
    """The model's 68 landmarks projected per frame: (T, K) expressions and T poses -> (T, 68, 2) px."""
    from thead.face.fit import project_vertices

    lm = model.landmarks68
    base = model.mean_shape[lm] + np.tensordot(identity, model.id_basis[:, lm], axes=(0, 0))
    out = np.empty((len(poses), 68, 2), np.float32)
    for i, (e, p) in enumerate(zip(expression, poses)):
        v = base + np.tensordot(e, model.exp_basis[:, lm], axes=(0, 0))
        out[i] = project_vertices(v, p.rotation, p.translation, p.scale)[:, :2]
    return out
