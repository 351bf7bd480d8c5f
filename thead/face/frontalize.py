"""Face frontalization after Hassner, Harel, Paz & Enbar, "Effective face frontalization in unconstrained images"
(CVPR 2015), as GATH section 4.2 uses it.

1. The reference head is the 3DMM mean shape. Its frontal view is rendered once per output size (orthographic,
   z-buffered): every output pixel gets the 3D reference point it shows.
2. The query's pose: an affine camera P (2x4) fitted by least squares from the reference's 68 landmark vertices to
   the image's 68 detected landmarks (Hassner et al. estimate a projective camera with fixed intrinsics; for the
   near-frontal portraits and 100 px crops GATH works with the affine camera is the usual simplification).
3. Each output pixel samples the query image where P projects its 3D point (bilinear).
4. Visibility: the number of reference pixels that land on the same query pixel measures foreshortening /
   self-occlusion (Hassner's eq. 3). Pixels on the side turned away from the camera whose count exceeds the face's
   median blend with their mirror image across the symmetry plane (soft symmetry), weighted by how occluded they are.
"""

from __future__ import annotations

import numpy as np

from thead.face.facemodel import FaceModel
from thead.face.fit import affine_camera

FACE_FILL = 0.72  # fraction of the output width spanned by the reference landmarks' bounding box


class Frontalizer:
    """Frontalize faces to a square crop of ``size`` pixels (GATH: 100).

    Args:
        model: face model whose mean shape is the reference head.
        size: output width = height, pixels.
    """

    def __init__(self, model: FaceModel, size: int = 100):
        from thead.face.render import Rasterizer

        self.size = int(size)
        X = model.mean_shape.astype(np.float64)
        self.lmk3d = X[model.landmarks68]
        lb = self.lmk3d
        span = max(np.ptp(lb[:, 0]), np.ptp(lb[:, 1]))
        self.k = FACE_FILL * self.size / span  # px per model unit
        cy = (lb[:, 1].max() + lb[:, 1].min()) / 2
        # The reference is symmetric about x = 0, so the crop is centred there and mirroring is a column flip.
        c = (self.size - 1) / 2
        v = np.stack([X[:, 0] * self.k + c, c - (X[:, 1] - cy) * self.k, X[:, 2] * self.k], 1)
        # where the reference's 68 landmarks fall in the output (px): GATH's face mask is their convex hull
        self.landmarks_px = np.stack([lb[:, 0] * self.k + c, c - (lb[:, 1] - cy) * self.k], 1)
        self._verts_px, self._triangles = v, model.triangles
        r = Rasterizer(self.size, self.size)
        self.ref_xyz, self.ref_mask = r.render(v, model.triangles, X, cull_back=True)
        r.release()
        self.ref_xyz, self.ref_mask = fill_holes(self.ref_xyz.astype(np.float64), self.ref_mask)
        self._pts = self.ref_xyz[self.ref_mask]

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray, return_map: bool = False):
        """Frontalize one image.

        Args:
            rgb: (H, W, 3) uint8.
            landmarks: (68, 2) float px (ibug order).

            return_map: also return where each output pixel was sampled (for pasting results back).

        Returns:
            frontal (size, size, 3) uint8 and the soft-symmetry weight map (size, size) float32 in [0, 1]
            (1 = taken from the mirrored side); with ``return_map`` also mapx, mapy (size, size) float32, the input
            pixel coordinates of each output pixel (-1 outside the reference head).
        """
        import cv2

        H, W = rgb.shape[:2]
        P = affine_camera(self.lmk3d, np.asarray(landmarks, np.float64))
        uv = self._pts @ P[:, :3].T + P[:, 3]
        mapx = np.full((self.size, self.size), -1.0, np.float32)
        mapy = np.full((self.size, self.size), -1.0, np.float32)
        mapx[self.ref_mask], mapy[self.ref_mask] = uv[:, 0], uv[:, 1]
        out = cv2.remap(rgb, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= W - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= H - 1)

        # Hassner eq. 3: how many output pixels fetch from the same query pixel.
        q = np.clip(np.round(uv).astype(np.int64), 0, [W - 1, H - 1])
        flat = q[:, 1] * W + q[:, 0]
        counts = np.bincount(flat, minlength=W * H)[flat].astype(np.float64)
        med = np.median(counts[inside]) if inside.any() else 1.0
        occl = np.clip((counts / max(med, 1.0) - 1.0) / 2.0, 0.0, 1.0)
        occl[~inside] = 1.0
        occ_map = np.zeros((self.size, self.size))
        occ_map[self.ref_mask] = occl
        # Only the side turned away from the camera is occluded: the sign of the yaw (third column of P's x row).
        # Depth (z) moving to +x in the image with x (the subject's left) also mapping to +x means the head is
        # turned to its left: the subject's left half (output columns right of centre) is the far side.
        far_left = P[0, 2] * P[0, 0] > 0
        cols = np.arange(self.size)
        half = np.zeros((self.size, self.size), bool)
        half[:, cols >= self.size / 2 if far_left else cols < self.size / 2] = True
        candidates = half | outside_map(self.ref_mask, inside, self.size)
        weight = cv2.GaussianBlur(occ_map * candidates, (0, 0), self.size / 50.0)
        weight = np.clip(weight, 0, 1) * self.ref_mask
        mirrored = out[:, ::-1]
        mirror_ok = self.ref_mask[:, ::-1]
        weight = np.where(mirror_ok, weight, 0.0)
        res = out * (1 - weight[..., None]) + mirrored * weight[..., None]
        res = np.clip(res + 0.5, 0, 255).astype(np.uint8)
        if return_map:
            return res, weight.astype(np.float32), mapx, mapy
        return res, weight.astype(np.float32)


    def expression_flow_basis(self, model: FaceModel, smooth_px: float = 1.0) -> np.ndarray:
        """How each expression coefficient moves the pixels of a frontal crop: (K_exp, 2, size, size) float32,
        (dx, dy) in output pixels per unit coefficient.

        Every crop shows the reference head (the model's mean shape) in the same frontal view, so the image
        displacement of the surface point behind pixel q when expression weight k goes from 0 to 1 is the
        projection of ``exp_basis[k]`` there, the same for every frontalized face. Rendered with the z-buffer of
        the frontalization itself (front-facing surface only), ICT's mouth and eye holes filled by linear
        interpolation from their rims (as the reference), extended outside the head by its nearest covered
        pixel and smoothed with a Gaussian of ``smooth_px`` so the field has no step at the silhouette. A crop
        whose expression is e_src is warped to e_tgt by sampling, at each output pixel q, the input at
        q + sum_k (e_src - e_tgt)_k basis[k](q) (``thead.systems.gath.model.Generator``).
        """
        import cv2
        from scipy.ndimage import distance_transform_edt

        from thead.face.render import Rasterizer

        if model.n_vertices != len(self._verts_px):
            raise ValueError("expression_flow_basis needs the face model this frontalizer was built from")
        d = model.exp_basis.astype(np.float64) * self.k  # (K, V, 3) px per unit weight
        d = np.stack([d[..., 0], -d[..., 1]], -1)  # image y points down
        K, S = len(d), self.size
        out = np.zeros((K, 2, S, S), np.float32)
        r = Rasterizer(S, S)
        try:
            for k0 in range(0, K, 2):  # the rasterizer interpolates up to 4 channels per pass
                ks = list(range(k0, min(k0 + 2, K)))
                attr = np.concatenate([d[k] for k in ks], 1)
                img, mask = r.render(self._verts_px, self._triangles, attr, cull_back=True)
                img, mask2 = fill_holes(img[..., :attr.shape[1]].astype(np.float64), mask)
                _, (iy, ix) = distance_transform_edt(~mask2, return_indices=True)
                img = img[iy, ix]
                for j, k in enumerate(ks):
                    for c in range(2):
                        f = img[..., 2 * j + c].astype(np.float32)
                        out[k, c] = cv2.GaussianBlur(f, (0, 0), smooth_px) if smooth_px > 0 else f
        finally:
            r.release()
        return out


def face_mask(front: "Frontalizer") -> np.ndarray:
    """(size, size) bool: the convex hull of the reference landmarks in the frontal view (GATH's face region)."""
    import cv2

    hull = cv2.convexHull(np.round(front.landmarks_px).astype(np.int32))
    m = np.zeros((front.size, front.size), np.uint8)
    cv2.fillConvexPoly(m, hull, 1)
    return m.astype(bool)


def outside_map(mask: np.ndarray, inside: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: True where the pixel's projection falls outside the query image."""
    m = np.zeros((size, size), bool)
    m[mask] = ~inside
    return m


def fill_holes(xyz: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill enclosed holes of the rendered reference (ICT's eye sockets and mouth have no surface) by linear
    interpolation of the surrounding 3D points, so the eyes of the query are sampled where they are.

    Args:
        xyz: (S, S, C) 3D point (or any C attributes) per pixel; mask: (S, S) bool coverage.
    """
    from scipy.interpolate import griddata
    from scipy.ndimage import binary_dilation, binary_fill_holes

    holes = binary_fill_holes(mask) & ~mask
    if not holes.any():
        return xyz, mask
    ring = binary_dilation(holes, iterations=2) & mask
    src = np.argwhere(ring)
    dst = np.argwhere(holes)
    out = xyz.copy()
    for c in range(xyz.shape[-1]):
        out[holes, c] = griddata(src, xyz[ring, c], dst, method="linear", fill_value=float(np.median(xyz[ring, c])))
    return out, mask | holes
